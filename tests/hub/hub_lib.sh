# hub_lib.sh — the Hub tests' look-alike server (sourced after ../shell_lib.sh; POSIX sh).
#
# start_fake_hub [fake_hub.py options]: starts tests/hub/fake_hub.py on loopback with its root
# in $SCRATCH/server (exits 77 without a python3 that has http.server) and sets EP, its URL.
# The server reads its stdin, a fifo held open on fd 3: it ends when the script does, or at
# stop_fake_hub. The HF_* variables and proxies of the caller's environment are cleared.
PYTHON3=${PYTHON3:-python3}

start_fake_hub() {
    if ! "$PYTHON3" -c 'import http.server, socketserver' >/dev/null 2>&1; then
        echo "skipped: $PYTHON3 with http.server is not available"
        exit 77
    fi
    unset HF_TOKEN HF_TOKEN_PATH HF_HOME HF_HUB_CACHE HF_ENDPOINT HF_HUB_OFFLINE \
        http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
    export NO_PROXY='*'
    mkfifo "$SCRATCH/ctl" || exit 2
    "$PYTHON3" "$HERE/fake_hub.py" --root "$SCRATCH/server" --max-seconds 170 "$@" \
        <"$SCRATCH/ctl" >"$SCRATCH/ports" &
    SERVER=$!
    exec 3>"$SCRATCH/ctl"
    trap 'exec 3>&-; kill $SERVER 2>/dev/null' EXIT
    _i=0
    until grep -q '^PORTS' "$SCRATCH/ports" 2>/dev/null; do
        _i=$((_i + 1))
        if [ $_i -gt 300 ]; then
            echo "fake_hub.py did not start" >&2
            exit 1
        fi
        sleep 0.1
    done
    EP=http://127.0.0.1:$(awk '{print $2}' "$SCRATCH/ports")
}

# stop_fake_hub: the server goes away (what follows must do with the cache alone).
stop_fake_hub() {
    exec 3>&-
    kill $SERVER 2>/dev/null
    wait $SERVER 2>/dev/null
}
