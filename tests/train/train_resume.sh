# train_resume.sh — exact resume: a run killed with SIGKILL after its first checkpoint and
# continued with --resume ends with the same parameters, optimizer state and metrics (timing
# aside) as a run that was never interrupted, bit for bit on the CPU backend.
. "$(dirname "$0")/lib.sh"

make_data "$SCRATCH/data"
ARGS="--backend cpu --threads 2 --preset tiny --data $SCRATCH/data --dataset-percent 100
      --batch-size 8 --max-steps 150 --lr 3e-3 --log-steps 10 --eval-steps 50 --save-steps 20
      --quiet"

run_cli straight $ARGS --output-dir "$SCRATCH/a"
expect_rc 0 "the uninterrupted run"

# the interrupted run: SIGKILL as soon as checkpoint-20 is complete
"$BIN" $ARGS --output-dir "$SCRATCH/b" >"$SCRATCH/killed.out" 2>&1 &
kill_when "$SCRATCH/b/checkpoint-20/trainer_state.json" $!
if [ -f "$SCRATCH/b/final_model/model.safetensors" ]; then
    fail "the run finished before the kill (rc $KRC): nothing was tested"
else
    pass "killed (rc $KRC) after $(ls "$SCRATCH/b" | grep -c checkpoint) checkpoint(s)"
fi

run_cli resumed $ARGS --output-dir "$SCRATCH/b" --resume
expect_rc 0 "--resume after SIGKILL"
expect_same "$SCRATCH/a/final_model/model.safetensors" "$SCRATCH/b/final_model/model.safetensors" \
    "the final parameters are identical"
expect_same "$SCRATCH/a/checkpoint-150/optimizer.safetensors" \
    "$SCRATCH/b/checkpoint-150/optimizer.safetensors" "the optimizer moments are identical"
sed 's/"tokens_per_s".*//' "$SCRATCH/a/metrics.jsonl" >"$SCRATCH/a.metrics"
sed 's/"tokens_per_s".*//' "$SCRATCH/b/metrics.jsonl" >"$SCRATCH/b.metrics"
expect_same "$SCRATCH/a.metrics" "$SCRATCH/b.metrics" "metrics.jsonl is identical (timing aside)"

# a checkpoint whose setup differs is refused, naming the field
run_cli mismatch $ARGS --output-dir "$SCRATCH/b" --resume --ckpt "$SCRATCH/b/checkpoint-20" \
    --batch-size 4
expect_rc 1 "resuming with another batch size"
expect_grep "$ERR" "batch_size" "the differing field is named"

# a torn save (a temporary folder left by a crash while saving) does not hide the last one
mkdir -p "$SCRATCH/b/.tmp-checkpoint-160" && : >"$SCRATCH/b/.tmp-checkpoint-160/config.json"
mkdir -p "$SCRATCH/b/checkpoint-170" && : >"$SCRATCH/b/checkpoint-170/config.json"
run_cli torn $ARGS --output-dir "$SCRATCH/b" --resume --max-steps 150
expect_rc 0 "resume with a torn checkpoint folder present"
finish
