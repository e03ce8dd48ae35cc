# cli_tokens.sh — --tokens prints one vocabulary string per id: as many as ids, special tokens as
# themselves, byte-level forms (Ġ for a space) for the rest.
. "$(dirname "$0")/cli_lib.sh"

IN=$SCRATCH/in.txt
countdown_text >"$IN"
tok ids "$IN" --countdown
expect_rc 0 "ids"
cp "$OUT" "$SCRATCH/ids.txt"
tok toks "$IN" --countdown --tokens
expect_rc 0 "--tokens"
cp "$OUT" "$SCRATCH/tokens.txt"
awk '{ print NF }' "$SCRATCH/ids.txt" >"$SCRATCH/n_ids.txt"
awk '{ print NF }' "$SCRATCH/tokens.txt" >"$SCRATCH/n_tokens.txt"
expect_same "$SCRATCH/n_ids.txt" "$SCRATCH/n_tokens.txt" "as many tokens as ids on every line"
# The D_back row's last line is "<backtrack>": the special token alone.
grep -q -x -F '<backtrack>' "$SCRATCH/tokens.txt" && pass "<backtrack> is one token" ||
    fail "no line is exactly '<backtrack>'"
# A space inside a line shows as the byte-level Ġ (U+0120).
expect_grep "$SCRATCH/tokens.txt" "$(printf '\304\240')" "spaces show as the byte-level form"
# With --special, BOS is the first token of each line.
tok toks_bos "$IN" --countdown --tokens --special
expect_rc 0 "--tokens --special"
first=$(head -1 "$OUT" | cut -d' ' -f1)
expect_grep "$OUT" "<|begin_of_text|>" "--special --tokens shows <|begin_of_text|>"
[ "$first" = "<|begin_of_text|>" ] && pass "BOS comes first" || fail "first token is '$first'"

finish
