# cli_lib.sh — helpers for the selfbt-tokenize CLI tests on top of ../shell_lib.sh (sourced, not run).
#
# Each test is run by ctest as:  sh cli_<name>.sh <path of selfbt-tokenize> <scratch folder>
# The scratch folder is emptied first and left in place afterwards for a look.
TOOL=selfbt-tokenize
. "$(dirname "$0")/../shell_lib.sh"

# tok NAME INPUT-FILE ARGS...: selfbt-tokenize ARGS < INPUT-FILE (see run_in).
tok() {
    run_in "$@"
}

# Countdown text as SPEC writes it, a few rows; the last line has no newline on purpose.
countdown_text() {
    printf '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n10*6=60\n2+60=62\nGoal Reached!\n'
    printf '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n39+6=45\n<backtrack>\n'
    printf '###Question: numbers [84, 53, 80, 88]->target 75\n###Response:\n84-80=4\n88/4=22\n53+22=75\nGoal Reached!<|end_of_text|>\n'
    printf '\n   spaces  and\ttabs \n'
    printf 'The quick brown fox, "don'\''t" I'\''M 12345678 caf\303\251 \344\275\240\345\245\275 \360\237\230\200'
}
