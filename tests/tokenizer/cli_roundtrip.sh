# cli_roundtrip.sh — encode -> decode gives the text back (line by line and --whole), BOS with
# --special, --save + --tokenizer DIR encodes as --countdown does, --info.
. "$(dirname "$0")/cli_lib.sh"

IN=$SCRATCH/in.txt
countdown_text >"$IN"
printf '\n' >>"$SCRATCH/in_nl.txt"
cat "$IN" "$SCRATCH/in_nl.txt" >"$SCRATCH/in_lines.txt" # the same with a final newline

# Line by line: one output line per input line.
tok enc "$IN" --countdown
expect_rc 0 "encode line by line"
n_in=$(wc -l <"$SCRATCH/in_lines.txt" | tr -d ' ')
n_out=$(wc -l <"$OUT" | tr -d ' ')
[ "$n_in" -eq "$n_out" ] && pass "one line of ids per input line ($n_out)" ||
    fail "$n_out lines of ids for $n_in input lines"
grep -q -v -E '^[0-9]+( [0-9]+)*$|^$' "$OUT" && fail "ids output has something else than ids: $(grep -v -E '^[0-9]+( [0-9]+)*$|^$' "$OUT" | head -2)"

# Decode keeping special tokens gives the text back exactly (<backtrack>, <|end_of_text|>).
cp "$OUT" "$SCRATCH/ids.txt"
tok dec "$SCRATCH/ids.txt" --countdown --decode --special
expect_rc 0 "decode --special"
expect_same "$OUT" "$SCRATCH/in_lines.txt" "encode | decode --special == input"

# Decode without --special drops the special tokens.
tok dec_skip "$SCRATCH/ids.txt" --countdown --decode
expect_rc 0 "decode (skip special)"
grep -q -F '<backtrack>' "$OUT" && fail "decode without --special kept <backtrack>"
sed -e 's/<backtrack>//g' -e 's/<|end_of_text|>//g' "$SCRATCH/in_lines.txt" >"$SCRATCH/in_nospecial.txt"
expect_same "$OUT" "$SCRATCH/in_nospecial.txt" "decode without --special == input less the special tokens"

# --special when encoding: each line starts with BOS; decoding without --special drops it.
tok info /dev/null --countdown --info
expect_rc 0 "--info"
BOS=$(awk '$1 == "bos" { print $2 }' "$OUT")
[ -n "$BOS" ] && [ "$BOS" -ge 0 ] && pass "--info gives BOS $BOS" || fail "--info gives no BOS"
tok enc_bos "$IN" --countdown --special
expect_rc 0 "encode --special"
bad_lines=$(awk -v b="$BOS" '$1 != b' "$OUT" | wc -l | tr -d ' ')
[ "$bad_lines" -eq 0 ] && pass "every line starts with BOS" || fail "$bad_lines lines do not start with BOS $BOS"
cp "$OUT" "$SCRATCH/ids_bos.txt"
tok dec_bos "$SCRATCH/ids_bos.txt" --countdown --decode
expect_same "$OUT" "$SCRATCH/in_nospecial.txt" "encode --special | decode == input less the special tokens"

# --whole: the whole input is one text; decode --whole gives it back byte for byte.
tok whole "$IN" --countdown --whole
expect_rc 0 "encode --whole"
[ "$(wc -l <"$OUT" | tr -d ' ')" -eq 1 ] && pass "--whole prints one line" || fail "--whole printed $(wc -l <"$OUT") lines"
cp "$OUT" "$SCRATCH/ids_whole.txt"
tok whole_dec "$SCRATCH/ids_whole.txt" --countdown --decode --whole --special
expect_rc 0 "decode --whole --special"
expect_same "$OUT" "$IN" "encode --whole | decode --whole --special == input"

# Commas between ids are accepted too.
tr ' ' ',' <"$SCRATCH/ids_whole.txt" >"$SCRATCH/ids_commas.txt"
tok whole_commas "$SCRATCH/ids_commas.txt" --countdown --decode --whole --special
expect_same "$OUT" "$IN" "ids separated by commas"

# --save DIR, then --tokenizer DIR (and DIR/tokenizer.json) encode as --countdown does.
tok save /dev/null --countdown --save "$SCRATCH/saved"
expect_rc 0 "--save"
[ -f "$SCRATCH/saved/tokenizer.json" ] && pass "--save wrote tokenizer.json" || fail "--save wrote no tokenizer.json"
tok enc_saved "$IN" --tokenizer "$SCRATCH/saved"
expect_rc 0 "encode with the saved folder"
expect_same "$OUT" "$SCRATCH/ids.txt" "the saved tokenizer encodes as --countdown"
tok enc_saved_json "$IN" --tokenizer "$SCRATCH/saved/tokenizer.json"
expect_same "$OUT" "$SCRATCH/ids.txt" "the saved tokenizer.json encodes as --countdown"

# --null: texts separated by NUL bytes may hold newlines; decode --null writes them back so.
printf '45-39=6\n10*6=60\n\000\000<backtrack>\n x\000' >"$SCRATCH/nul.txt"
tok nul "$SCRATCH/nul.txt" --countdown --null
expect_rc 0 "encode --null"
[ "$(wc -l <"$OUT" | tr -d ' ')" -eq 3 ] && pass "--null: one line of ids per text" ||
    fail "--null printed $(wc -l <"$OUT") lines for 3 texts"
cp "$OUT" "$SCRATCH/ids_nul.txt"
tok nul_dec "$SCRATCH/ids_nul.txt" --countdown --decode --special --null
expect_rc 0 "decode --null --special"
expect_same "$OUT" "$SCRATCH/nul.txt" "encode --null | decode --null --special == input"

# Empty input: no output.
: >"$SCRATCH/empty.txt"
tok empty "$SCRATCH/empty.txt" --countdown
expect_rc 0 "empty input"
[ -s "$OUT" ] && fail "empty input printed something"

# --stats on stderr.
tok stats "$IN" --countdown --stats
expect_grep "$ERR" "MB/s" "--stats prints the throughput"

finish
