# lib.sh — helpers for the selfbt-train CLI tests on top of ../shell_lib.sh (sourced, not run).
#
# Each test is run by ctest as:  sh <test>.sh <selfbt-train> <scratch folder> <selfbt-data>
TOOL=selfbt-train
. "$(dirname "$0")/../shell_lib.sh"
DATA_BIN=$3

# make_data DIR: a small Countdown dataset (selfbt-data) in DIR.
make_data() {
    "$DATA_BIN" --out "$1" --train-problems 150 --val 24 --val-new 24 --quiet ||
        { echo "selfbt-data failed" >&2; exit 2; }
}

# metric FILE STEP KEY: the value of KEY in the metrics.jsonl line of STEP (training lines).
metric() {
    grep "^{\"step\":$2,\"epoch\":[^,]*,\"$3\"" "$1" | sed "s/.*\"$3\":\([^,}]*\).*/\1/" | head -1
}
