# improve_run_resume.sh — selfbt-improve with the bundled model on a few problems: one round
# writes model_iteration_1 (HF folder + tokenizer), kept_iteration_1.jsonl (verified rows cut
# after "Goal Reached!", no <backtrack>) and report.json (entries labelled with the protocol);
# a rerun with --times 2 reports iterations 0 and 1 as done and makes only iteration 2; the same
# flags again do nothing; other flags on the same folder are refused naming the setting.
. "$(dirname "$0")/lib.sh"
make_data 12 6
OUTD=$SCRATCH/run
set -- --past_model "$MODEL" --data_dir "$SCRATCH/data" --num 12 --n 8 --lr 1e-4 \
    --backend cpu --threads 2 --output_dir "$OUTD" --quiet

run_cli first "$@" --times 1
expect_rc 0 "one round"
expect_grep "$OUT" "iteration 1 " "prints iteration 1"
for f in report.json kept_iteration_1.jsonl model_iteration_1/config.json \
    model_iteration_1/model.safetensors model_iteration_1/tokenizer.json; do
    [ -s "$OUTD/$f" ] && pass "$f written" || fail "$f missing"
done
[ -e "$OUTD/train_iteration_1/metrics.jsonl" ] && pass "the SFT's metrics.jsonl written" ||
    fail "train_iteration_1/metrics.jsonl missing"
[ -e "$OUTD/model_iteration_2" ] && fail "model_iteration_2 made with --times 1"
ls "$OUTD"/train_iteration_1 | grep -q checkpoint && fail "the trainer's checkpoint was left"
grep -q '<backtrack>' "$OUTD/kept_iteration_1.jsonl" && fail "kept text holds <backtrack>"
n=$(grep -c . "$OUTD/kept_iteration_1.jsonl")
g=$(grep -c 'Goal Reached!"}$' "$OUTD/kept_iteration_1.jsonl")
[ "$n" -gt 0 ] && [ "$n" = "$g" ] && pass "$n kept rows, each ending at Goal Reached!" ||
    fail "kept rows $n, ending at the goal $g"
p=$(grep -c '"protocol": "transductive"' "$OUTD/report.json")
[ "$p" = 3 ] && pass "config + 2 entries labelled transductive" || fail "protocol labels: $p"
cp "$OUTD/model_iteration_1/model.safetensors" "$SCRATCH/m1.safetensors"

run_cli second "$@" --times 2
expect_rc 0 "resumed with --times 2"
expect_grep "$OUT" "iteration 0 (done before)" "iteration 0 not redone"
expect_grep "$OUT" "iteration 1 (done before)" "iteration 1 not redone"
expect_grep "$OUT" "iteration 2 " "iteration 2 made"
expect_same "$OUTD/model_iteration_1/model.safetensors" "$SCRATCH/m1.safetensors" \
    "model_iteration_1 untouched"
[ -s "$OUTD/model_iteration_2/model.safetensors" ] && pass "model_iteration_2 written" ||
    fail "model_iteration_2 missing"
c=$(grep -c '"iteration": ' "$OUTD/report.json")
[ "$c" = 3 ] && pass "3 entries" || fail "$c entries in the report"

run_cli third "$@" --times 2
expect_rc 0 "nothing left to do"
d=$(grep -c "(done before)" "$OUT")
[ "$d" = 3 ] && pass "every iteration done before" || fail "$d iterations done before"

run_cli other "$@" --times 2 --seed 7
expect_rc 2 "other settings on the same folder"
expect_grep "$ERR" '"seed"' "names the setting"
finish
