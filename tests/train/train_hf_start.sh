# train_hf_start.sh — selfbt-train --model from a Hugging Face-style folder whose tokenizer
# lacks <backtrack> (as a downloaded Llama-3.2-1B): the token is added as a special token with
# the next id, the embeddings grow by one row, the EOS padding is used, the loss falls, and
# final_model holds the grown vocabulary and a tokenizer that knows <backtrack>.
# Needs MAKE_CKPT (tests/eval's make_tiny_ckpt) and TINY_TOKENIZER (tests/golden, a byte-level
# BPE).
. "$(dirname "$0")/lib.sh"

mkdir -p "$SCRATCH/tok"
cp "$TINY_TOKENIZER/tiny_tokenizer.json" "$SCRATCH/tok/tokenizer.json"
cp "$TINY_TOKENIZER/tiny_tokenizer_config.json" "$SCRATCH/tok/tokenizer_config.json"
"$MAKE_CKPT" "$SCRATCH/start" "$SCRATCH/tok" >"$SCRATCH/start.out" 2>&1 ||
    { cat "$SCRATCH/start.out"; exit 2; }
V=$(sed -n 's/.*vocabulary \([0-9]*\).*/\1/p' "$SCRATCH/start.out")
make_data "$SCRATCH/data"

run_cli hf --model "$SCRATCH/start" --data "$SCRATCH/data" --dataset-percent 100 --backend cpu \
    --threads 2 --batch-size 8 --max-steps 40 --lr 3e-3 --log-steps 10 --eval-steps 0 \
    --save-steps 0 --output-dir "$SCRATCH/out" --quiet
expect_rc 0 "selfbt-train --model <HF folder>"
F=$SCRATCH/out/final_model
expect_grep "$F/config.json" "\"vocab_size\": $((V + 1))" "the vocabulary grew by one row ($V -> $((V + 1)))"
expect_grep "$F/config.json" "\"torch_dtype\": \"bfloat16\"" "final_model keeps the start's dtype"
expect_grep "$F/tokenizer.json" "\"id\": $V," "the new token has the next id"
expect_grep "$F/tokenizer.json" "\"content\": \"<backtrack>\"" "the tokenizer knows <backtrack>"
expect_grep "$F/tokenizer_config.json" "\"pad_token\": \"</s>\"" "pad = EOS, as the seed"
L10=$(metric "$SCRATCH/out/metrics.jsonl" 10 loss)
L40=$(metric "$SCRATCH/out/metrics.jsonl" 40 loss)
if awk "BEGIN { exit !($L40 < 0.8 * $L10) }"; then
    pass "the loss falls ($L10 at step 10, $L40 at step 40)"
else
    fail "the loss did not fall enough: $L10 at step 10, $L40 at step 40"
fi
finish
