# improve_sft_resume.sh — with --save_steps, a run killed (SIGKILL) in the middle of an
# iteration's SFT resumes that SFT from its newest checkpoint, says so, and ends with the same
# model_iteration_1 (bit for bit, CPU) and the same report numbers as a run never interrupted.
. "$(dirname "$0")/lib.sh"
make_data 12 6
# a few kept rows, one a step, 40 epochs: an SFT of 100+ steps, a checkpoint every 10
set -- --past_model "$MODEL" --data_dir "$SCRATCH/data" --num 12 --n 8 --lr 1e-4 \
    --backend cpu --threads 2 --times 1 --batch_size 1 --epochs 40 --save_steps 10 --no_slow

run_cli straight "$@" --output_dir "$SCRATCH/a" --quiet
expect_rc 0 "the uninterrupted run"

# the interrupted run: SIGKILL as soon as the SFT's checkpoint-10 is complete
T=$SCRATCH/b/train_iteration_1
"$BIN" "$@" --output_dir "$SCRATCH/b" --quiet >"$SCRATCH/killed.out" 2>&1 &
kill_when "$T/checkpoint-10/trainer_state.json" $!
if [ -d "$SCRATCH/b/model_iteration_1" ]; then
    fail "the run finished its SFT before the kill (rc $KRC): nothing was tested"
else
    pass "killed (rc $KRC) in the SFT, after $(ls "$T" | grep -c checkpoint) checkpoint(s)"
fi

run_cli resumed "$@" --output_dir "$SCRATCH/b"
expect_rc 0 "the rerun after SIGKILL"
expect_grep "$ERR" "iteration 1 resumes its SFT from" "the SFT resumed, not redone"
expect_same "$SCRATCH/a/model_iteration_1/model.safetensors" \
    "$SCRATCH/b/model_iteration_1/model.safetensors" "model_iteration_1 is identical"
# the report's training numbers (the first and last loss, steps) are the same
for f in a b; do
    grep -o '"loss_first": [^,]*, "loss_last": [^,]*' "$SCRATCH/$f/report.json" >"$SCRATCH/$f.train"
    grep -o '"steps": [0-9]*' "$SCRATCH/$f/report.json" >>"$SCRATCH/$f.train"
done
[ -s "$SCRATCH/a.train" ] && pass "the report has the SFT's numbers" || fail "no SFT numbers in a's report"
expect_same "$SCRATCH/a.train" "$SCRATCH/b.train" "the report's SFT numbers are identical"
ls "$T" | grep -q checkpoint && fail "the SFT's checkpoints were left"
finish
