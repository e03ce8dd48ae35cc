# cli_bad_flags.sh — a bad command line exits 2 and says why on stderr with nothing on stdout;
# runtime errors (missing file, bad ids, ids outside the vocabulary) exit 1 with a message.
. "$(dirname "$0")/cli_lib.sh"

IN=$SCRATCH/in.txt
printf 'hello world\n' >"$IN"

# bad NAME WANT-IN-STDERR ARGS...
bad() {
    _n=$1
    _want=$2
    shift 2
    tok "$_n" "$IN" "$@"
    expect_rc 2 "$*"
    expect_grep "$ERR" "$_want" "'$*' names $_want"
    [ -s "$OUT" ] && fail "'$*' printed on stdout: $(cat "$OUT")"
}

bad none "--tokenizer PATH or --countdown"
bad both "exclude" --countdown --tokenizer "$IN"
bad tokens_decode "--tokens" --countdown --tokens --decode
bad bogus "--bogus" --countdown --bogus
bad flag_value "--whole" --countdown --whole=1
bad no_value "--tokenizer" --tokenizer
bad empty_value "--tokenizer" --tokenizer=
bad stray "stray" --countdown stray
bad save_decode "--save" --countdown --save "$SCRATCH/x" --decode
bad save_info "--save" --countdown --save "$SCRATCH/x" --info
bad null_whole "--null" --countdown --null --whole
[ -e "$SCRATCH/x" ] && fail "a bad command line created $SCRATCH/x"

# runtime NAME INPUT WANT-IN-STDERR ARGS...: exit 1 with a message.
runtime() {
    _n=$1
    _in=$2
    _want=$3
    shift 3
    tok "$_n" "$_in" "$@"
    expect_rc 1 "$*"
    expect_grep "$ERR" "$_want" "'$*' says '$_want'"
}
runtime missing "$IN" "$SCRATCH/no/such/tokenizer.json" --tokenizer "$SCRATCH/no/such/tokenizer.json"
printf '{ "not": "a tokenizer" ' >"$SCRATCH/broken.json"
runtime broken "$IN" "selfbt-tokenize" --tokenizer "$SCRATCH/broken.json"
printf '1 2 abc 3\n' >"$SCRATCH/bad_ids.txt"
runtime bad_ids "$SCRATCH/bad_ids.txt" "abc" --countdown --decode
printf '1 -2\n' >"$SCRATCH/neg_ids.txt"
runtime neg_ids "$SCRATCH/neg_ids.txt" "-2" --countdown --decode
printf '1 99999999\n' >"$SCRATCH/big_ids.txt"
runtime big_ids "$SCRATCH/big_ids.txt" "99999999" --countdown --decode
printf '1 99999999999999\n' >"$SCRATCH/huge_ids.txt"
runtime huge_ids "$SCRATCH/huge_ids.txt" "99999999999999" --countdown --decode

# --help and --version: exit 0, on stdout.
tok help "$IN" --help
expect_rc 0 "--help"
expect_grep "$OUT" "usage: selfbt-tokenize" "--help prints the usage"
for flag in --tokenizer --countdown --decode --whole --tokens --special --save; do
    grep -q -e "$flag" "$OUT" || fail "--help does not list $flag"
done
tok version "$IN" --version
expect_rc 0 "--version"
expect_grep "$OUT" "selfbt-tokenize (libselfbt " "--version names the library version"

finish
