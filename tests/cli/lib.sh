# lib.sh — helpers for the selfbt-data CLI tests on top of ../shell_lib.sh (sourced, not run).
#
# Each test is run by ctest as:  sh <test>.sh <path of selfbt-data> <scratch folder>
# The scratch folder is emptied at the start; it is left in place afterwards for a look.

TOOL=selfbt-data
. "$(dirname "$0")/../shell_lib.sh"
PYTHON3=${PYTHON3:-python3}

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
