# cli_bad_flags.sh — a bad command line exits 2, names the flag (or argument) on stderr,
# prints nothing on stdout and creates nothing; --help and --version exit 0.
. "$(dirname "$0")/lib.sh"

NEVER=$SCRATCH/never

# bad NAME WANT-IN-STDERR ARGS...
bad() {
    _n=$1
    _want=$2
    shift 2
    run_cli "$_n" "$@"
    expect_rc 2 "$*"
    expect_grep "$ERR" "$_want" "'$*' names $_want"
    [ -s "$OUT" ] && fail "'$*' printed on stdout: $(cat "$OUT")"
    [ -e "$NEVER" ] && fail "'$*' created $NEVER" && rm -rf "$NEVER"
}

bad tp_abc --train-problems --out "$NEVER" --train-problems abc
bad tp_neg --train-problems --out "$NEVER" --train-problems -1
bad tp_exp --train-problems --out "$NEVER" --train-problems 1e5
bad tp_eq_empty --train-problems --out "$NEVER" --train-problems=
bad tp_big --train-problems --out "$NEVER" --train-problems 100000001
bad seed_neg --seed --out "$NEVER" --seed -1
bad ratio_one --ratio --out "$NEVER" --ratio 1
bad ratio_zero --ratio --out "$NEVER" --ratio 0:1
bad ratio_three --ratio --out "$NEVER" --ratio 1:1:1
bad ratio_neg --ratio --out "$NEVER" --ratio 1:-1
bad ratio_text --ratio --out "$NEVER" --ratio a:b
bad mix_two --error-mix --out "$NEVER" --error-mix 1:2
bad mix_frac --error-mix --out "$NEVER" --error-mix 1.5:2:2
bad nums_big --nums --out "$NEVER" --nums 7
bad threads_eq --threads --out "$NEVER" --threads=abc
bad quiet_value --quiet --out "$NEVER" --quiet=1
bad bogus --bogus --out "$NEVER" --bogus
bad bogus_eq --bogus --out "$NEVER" --bogus=3
bad stray stray --out "$NEVER" stray
bad stray_dash -x --out "$NEVER" -x
bad out_no_value --out --out
bad seed_no_value --seed --out "$NEVER" --seed
bad out_empty --out --out=

# --help: exit 0, usage on stdout listing the flags.
run_cli help --help
expect_rc 0 "--help"
for flag in --seed --out --train-problems --ratio --error-mix --val --val-new --threads --quiet; do
    grep -q -e "$flag" "$OUT" || fail "--help does not list $flag"
done
expect_grep "$OUT" "usage: selfbt-data" "--help prints the usage"
[ -s "$ERR" ] && fail "--help wrote to stderr: $(cat "$ERR")"
run_cli help_after --out "$NEVER" --seed 3 --help
expect_rc 0 "--help after other flags"
[ -e "$NEVER" ] && fail "--help created $NEVER"

run_cli version --version
expect_rc 0 "--version"
expect_grep "$OUT" "selfbt-data (libselfbt " "--version names the library version"

left=$(ls -A "$SCRATCH" | grep -v -e '\.out$' -e '\.err$')
[ -n "$left" ] && fail "bad command lines left files behind: $left"

finish
