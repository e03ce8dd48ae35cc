# shell_lib.sh — helpers shared by the CLI test scripts (POSIX sh; sourced, not run).
#
# A test is run by ctest as:  sh <test>.sh <path of the tool> <scratch folder>
# Before sourcing, set TOOL to the tool's name (for messages). The scratch folder is emptied
# at the start and left in place afterwards for a look.

if [ $# -lt 2 ]; then
    echo "usage: sh $0 ${TOOL:-TOOL} SCRATCH_DIR" >&2
    exit 2
fi
BIN=$1
SCRATCH=$2
HERE=$(cd "$(dirname "$0")" && pwd)
FAILS=0

case "$SCRATCH" in
"" | / | /tmp | /tmp/ | "$HOME" | "$HOME/")
    echo "refusing to use '$SCRATCH' as the scratch folder" >&2
    exit 2
    ;;
esac
if [ ! -x "$BIN" ]; then
    echo "${TOOL:-the tool} not found or not executable: $BIN" >&2
    exit 2
fi
chmod -R u+rwx "$SCRATCH" 2>/dev/null
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH" || exit 2

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

pass() {
    echo "ok: $*"
}

# show FILE: prints (the start of) a file indented, for the log of a failure.
show() {
    sed 's/^/    | /' "$1" | head -40 >&2
}

# run_in NAME INPUT ARGS...: runs the tool with ARGS and stdin from INPUT; stdout and stderr
# go to $SCRATCH/NAME.out and .err ($OUT, $ERR); the exit status is left in $RC.
run_in() {
    _name=$1
    _in=$2
    shift 2
    "$BIN" "$@" <"$_in" >"$SCRATCH/$_name.out" 2>"$SCRATCH/$_name.err"
    RC=$?
    OUT=$SCRATCH/$_name.out
    ERR=$SCRATCH/$_name.err
}

# run_cli NAME ARGS...: run_in with no input.
run_cli() {
    _n=$1
    shift
    run_in "$_n" /dev/null "$@"
}

# expect_rc WANT WHAT
expect_rc() {
    if [ "$RC" -eq "$1" ]; then
        pass "$2: exit status $RC"
    else
        fail "$2: exit status $RC, expected $1"
        echo "  stdout:" >&2
        show "$OUT"
        echo "  stderr:" >&2
        show "$ERR"
    fi
}

# expect_grep FILE FIXED-STRING WHAT
expect_grep() {
    if grep -F -e "$2" "$1" >/dev/null 2>&1; then
        pass "$3"
    else
        fail "$3: '$2' not found in $(basename "$1")"
        show "$1"
    fi
}

# expect_same FILE-A FILE-B WHAT: byte-identical files.
expect_same() {
    if cmp -s "$1" "$2"; then
        pass "$3"
    else
        fail "$3: $(basename "$1") and $(basename "$2") differ"
        cmp "$1" "$2" >&2
        diff "$1" "$2" | head -10 >&2
    fi
}

# kill_when FILE PID: waits (60 s at most) until FILE exists, then kills PID with SIGKILL (a
# crash at that point); PID's exit status is left in $KRC.
kill_when() {
    _i=0
    while [ ! -f "$1" ] && [ $_i -lt 6000 ]; do
        sleep 0.01
        _i=$((_i + 1))
    done
    kill -9 "$2" 2>/dev/null
    wait "$2" 2>/dev/null
    KRC=$?
}

finish() {
    if [ "$FAILS" -eq 0 ]; then
        echo "PASS: $(basename "$0")"
        exit 0
    fi
    echo "$(basename "$0"): $FAILS check(s) failed" >&2
    exit 1
}
