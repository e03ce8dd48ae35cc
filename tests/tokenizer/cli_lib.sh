# cli_lib.sh — shared helpers for the selfbt-tokenize CLI tests (POSIX sh; sourced, not run).
#
# Each test is run by ctest as:  sh cli_<name>.sh <path of selfbt-tokenize> <scratch folder>
# The scratch folder is emptied first and left in place afterwards for a look.
if [ $# -lt 2 ]; then
    echo "usage: sh $0 SELFBT_TOKENIZE SCRATCH_DIR" >&2
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
    echo "selfbt-tokenize not found or not executable: $BIN" >&2
    exit 2
fi
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH" || exit 2

fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
pass() {
    echo "ok: $*"
}
show() {
    sed 's/^/    | /' "$1" | head -20 >&2
}

# tok NAME INPUT-FILE ARGS...: runs selfbt-tokenize ARGS < INPUT-FILE; stdout/stderr go to
# $SCRATCH/NAME.out / .err; the exit status is left in $RC.
tok() {
    _name=$1
    _in=$2
    shift 2
    "$BIN" "$@" <"$_in" >"$SCRATCH/$_name.out" 2>"$SCRATCH/$_name.err"
    RC=$?
    OUT=$SCRATCH/$_name.out
    ERR=$SCRATCH/$_name.err
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

expect_grep() {
    # expect_grep FILE FIXED-STRING WHAT
    if grep -F -e "$2" "$1" >/dev/null 2>&1; then
        pass "$3"
    else
        fail "$3: '$2' not found in $(basename "$1")"
        show "$1"
    fi
}

# Countdown text as SPEC writes it, a few rows; the last line has no newline on purpose.
countdown_text() {
    printf '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n10*6=60\n2+60=62\nGoal Reached!\n'
    printf '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n39+6=45\n<backtrack>\n'
    printf '###Question: numbers [84, 53, 80, 88]->target 75\n###Response:\n84-80=4\n88/4=22\n53+22=75\nGoal Reached!<|end_of_text|>\n'
    printf '\n   spaces  and\ttabs \n'
    printf 'The quick brown fox, "don'\''t" I'\''M 12345678 caf\303\251 \344\275\240\345\245\275 \360\237\230\200'
}

finish() {
    if [ "$FAILS" -eq 0 ]; then
        echo "PASS: $(basename "$0")"
        exit 0
    fi
    echo "$(basename "$0"): $FAILS check(s) failed" >&2
    exit 1
}
