# pull.sh — selfbt-pull end to end against fake_hub.py on loopback: a whole repo, named files,
# a dataset, the HF_* environment, the error paths, then offline mode once the server is gone.
# Run by ctest as: sh pull.sh <selfbt-pull> <scratch folder>. Exits 77 without python3.
TOOL=selfbt-pull
. "$(dirname "$0")/../shell_lib.sh"
. "$HERE/hub_lib.sh"
start_fake_hub
CACHE=$SCRATCH/cache
DATA=$SCRATCH/server/data

# expect_snapshot_paths DIR N: OUT has N lines, each a file under DIR/snapshots (a symlink
# into blobs/).
expect_snapshot_paths() {
    _n=$(wc -l <"$OUT" | tr -d ' ')
    if [ "$_n" -eq "$2" ]; then pass "$_n paths printed"; else fail "$_n paths printed, expected $2"; fi
    while read -r p; do
        case $p in
        "$1"/snapshots/*) ;;
        *) fail "$p is not under $1/snapshots" ;;
        esac
        if [ -L "$p" ] && [ -f "$p" ]; then pass "$p is a link to a file"; else fail "$p is not a link to a file"; fi
    done <"$OUT"
}

run_cli all test-org/tiny-model --endpoint "$EP" --cache "$CACHE" --quiet
expect_rc 0 "whole repo"
expect_snapshot_paths "$CACHE/models--test-org--tiny-model" 3
expect_grep "$OUT" "/tokenizer/vocab.txt" "nested file"
expect_same "$(grep model.safetensors "$OUT")" "$DATA/model/test-org/tiny-model/model.safetensors" \
    "the LFS file has the server's bytes"

run_cli named test-org/tiny-model config.json --revision v1.0 --endpoint="$EP" --cache "$CACHE"
expect_rc 0 "named file at a revision"
expect_snapshot_paths "$CACHE/models--test-org--tiny-model" 1
if [ -f "$CACHE/models--test-org--tiny-model/refs/v1.0" ]; then pass "refs/v1.0"; else fail "no refs/v1.0"; fi

run_cli dataset --dataset test-org/countdown train_backtrack.json val_backtrack.json \
    --endpoint "$EP" --cache "$CACHE" --quiet
expect_rc 0 "dataset files"
expect_snapshot_paths "$CACHE/datasets--test-org--countdown" 2

export HF_ENDPOINT="$EP" HF_HUB_CACHE="$SCRATCH/cache2"
run_cli env test-org/tiny-model config.json --quiet
unset HF_ENDPOINT HF_HUB_CACHE
expect_rc 0 "HF_ENDPOINT and HF_HUB_CACHE"
expect_snapshot_paths "$SCRATCH/cache2/models--test-org--tiny-model" 1

run_cli missing_repo test-org/nope config.json --endpoint "$EP" --cache "$CACHE"
expect_rc 1 "missing repo"
expect_grep "$ERR" "model repo test-org/nope not found" "missing repo message"
expect_grep "$ERR" "$EP/test-org/nope/resolve/main/config.json" "missing repo URL"
run_cli missing_file test-org/tiny-model nope.bin --endpoint "$EP" --cache "$CACHE"
expect_rc 1 "missing file"
expect_grep "$ERR" "file 'nope.bin' not found" "missing file message"
run_cli gated test-org/gated-model config.json --endpoint "$EP" --cache "$CACHE"
expect_rc 1 "gated repo without a token"
expect_grep "$ERR" "HF_TOKEN" "gated message names HF_TOKEN"
export HF_TOKEN=hf_test_token
run_cli gated_ok test-org/gated-model config.json --endpoint "$EP" --cache "$CACHE"
unset HF_TOKEN
expect_rc 0 "gated repo with HF_TOKEN"
if grep -q hf_test_token "$OUT" "$ERR"; then fail "the token was printed"; else pass "the token is not printed"; fi

run_cli no_repo --quiet
expect_rc 2 "no repo"
run_cli bad_flag test-org/tiny-model --bogus
expect_rc 2 "unknown flag"
run_cli help --help
expect_rc 0 "--help"
expect_grep "$OUT" "ORG/NAME" "usage names the arguments"

# The server goes away: the cache alone must do.
stop_fake_hub
run_cli offline test-org/tiny-model config.json --offline --cache "$CACHE"
expect_rc 0 "offline, cached file"
expect_snapshot_paths "$CACHE/models--test-org--tiny-model" 1
run_cli offline_all test-org/tiny-model --offline --cache "$CACHE"
expect_rc 0 "offline, whole cached repo"
expect_snapshot_paths "$CACHE/models--test-org--tiny-model" 3
export HF_HUB_OFFLINE=1
run_cli offline_env test-org/tiny-model config.json --cache "$CACHE"
unset HF_HUB_OFFLINE
expect_rc 0 "HF_HUB_OFFLINE=1"
run_cli offline_missing test-org/tiny-model other.bin --offline --cache "$CACHE"
expect_rc 1 "offline, file not cached"
expect_grep "$ERR" "offline" "offline message"
expect_grep "$ERR" "other.bin" "offline message names the file"
finish
