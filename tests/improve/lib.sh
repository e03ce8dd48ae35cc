# lib.sh — what the selfbt-improve CLI tests share, on top of ../shell_lib.sh (sourced, not run).
#
# Each test is run by ctest as:
#   sh <test>.sh <selfbt-improve> <scratch folder> <selfbt-data> <model folder>
TOOL=selfbt-improve
. "$(dirname "$0")/../shell_lib.sh"
DATA_BIN=$3
MODEL=$4

# make_data VAL VAL_NEW: a small Countdown dataset (selfbt-data) in $SCRATCH/data, with VAL
# and VAL_NEW evaluation problems.
make_data() {
    "$DATA_BIN" --out "$SCRATCH/data" --train-problems 10 --val "$1" --val-new "$2" --quiet ||
        { fail "selfbt-data"; finish; }
}
