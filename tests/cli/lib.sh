# lib.sh — shared helpers for the selfbt-data CLI tests (POSIX sh; sourced, not run).
#
# Each test is run by ctest as:  sh <test>.sh <path of selfbt-data> <scratch folder>
# The scratch folder is emptied at the start; it is left in place afterwards for a look.

if [ $# -lt 2 ]; then
    echo "usage: sh $0 SELFBT_DATA SCRATCH_DIR" >&2
    exit 2
fi
BIN=$1
SCRATCH=$2
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON3=${PYTHON3:-python3}
FAILS=0

case "$SCRATCH" in
"" | / | /tmp | /tmp/ | "$HOME" | "$HOME/")
    echo "refusing to use '$SCRATCH' as the scratch folder" >&2
    exit 2
    ;;
esac
if [ ! -x "$BIN" ]; then
    echo "selfbt-data not found or not executable: $BIN" >&2
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

# run_cli NAME ARGS... : runs selfbt-data with ARGS; stdout and stderr go to
# $SCRATCH/NAME.out and $SCRATCH/NAME.err; the exit status is left in $RC.
run_cli() {
    _name=$1
    shift
    "$BIN" "$@" >"$SCRATCH/$_name.out" 2>"$SCRATCH/$_name.err"
    RC=$?
    OUT=$SCRATCH/$_name.out
    ERR=$SCRATCH/$_name.err
}

# show FILE: prints a file indented, for the log of a failure.
show() {
    sed 's/^/    | /' "$1" >&2
}

expect_rc() {
    # expect_rc WANT WHAT
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

# lines FILE: the number of lines in FILE (-1 if it is missing).
lines() {
    if [ -f "$1" ]; then
        wc -l <"$1" | tr -d ' '
    else
        echo -1
    fi
}

expect_lines() {
    # expect_lines FILE N
    _n=$(lines "$1")
    if [ "$_n" -eq "$2" ]; then
        pass "$(basename "$1"): $_n lines"
    else
        fail "$(basename "$1"): $_n lines, expected $2"
    fi
}

# no_tmp_files DIR: no temporary "*.tmp.*" file was left behind.
no_tmp_files() {
    _left=$(find "$1" -name '*.tmp.*' 2>/dev/null)
    if [ -z "$_left" ]; then
        pass "no *.tmp.* files in $(basename "$1")"
    else
        fail "temporary files left behind: $_left"
    fi
}

# D_back rows end with "\n<backtrack>"; D_op rows with "Goal Reached!".
count_back() {
    grep -c '\\n<backtrack>"}$' "$1"
}
count_op() {
    grep -c 'Goal Reached!"}$' "$1"
}

have_python() {
    "$PYTHON3" -c 'import json, sys; sys.exit(sys.version_info < (3, 6))' >/dev/null 2>&1
}

finish() {
    if [ "$FAILS" -eq 0 ]; then
        echo "PASS: $(basename "$0")"
        exit 0
    fi
    echo "$(basename "$0"): $FAILS check(s) failed" >&2
    exit 1
}
