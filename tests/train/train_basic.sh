# train_basic.sh — selfbt-train from scratch on tiny Countdown data on the CPU: the loss falls,
# metrics.jsonl, checkpoints (with rotation) and final_model are written and the final model
# loads back; a config file with the seed's keys is read; bad configs and missing data fail
# with messages that name the key, the value or the file.
. "$(dirname "$0")/lib.sh"

make_data "$SCRATCH/data"
COMMON="--backend cpu --threads 2 --preset tiny --data $SCRATCH/data --dataset-percent 100"

# ---- a config with the seed's keys plus ours, and an unknown key --------------------------
cat >"$SCRATCH/tiny.conf" <<CONF
{
  "name": "tiny_countdown",
  "train_type": "sft",
  "seed": 42,
  "output_dir": "$SCRATCH/out",
  "num_train": 500000,
  "dataset_percent": 100.0,
  "context_length": 128,
  "eval_steps": 40,
  "log_steps": 10,
  "batch_size": 8,
  "gradient_accumulation_steps": 2,
  "num_train_epochs": 3,
  "weight_decay": 0.01,
  "warmup_steps": 5,
  "lr_scheduler_type": "cosine",
  "lr": 3e-3,
  "save_total_limit": 2,
  "save_steps": 20,
  "preset": "tiny",
  "data": "$SCRATCH/data",
  "backend": "cpu",
  "threads": 2,
  "max_steps": 60,
  "wandb": {"project": "x"},
  "favourite_colour": "blue"
}
CONF
run_cli conf --config "$SCRATCH/tiny.conf"
expect_rc 0 "training from a config"
expect_grep "$ERR" 'unknown key "favourite_colour"' "an unknown key is named in a warning"
expect_grep "$ERR" 'unknown key "wandb"' "an unknown nested key is named in a warning"
expect_grep "$OUT" "eval_loss" "the eval loss is printed"
M=$SCRATCH/out/metrics.jsonl
[ -f "$M" ] && pass "metrics.jsonl written" || fail "no metrics.jsonl"
first=$(metric "$M" 10 loss)
last=$(metric "$M" 60 loss)
echo "loss at step 10: $first, at step 60: $last"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 0 && b > 0 && b < 0.8 * a) }' &&
    pass "the loss falls (step 10 $first -> step 60 $last)" || fail "the loss did not fall: $first -> $last"
grep -q '"eval_loss"' "$M" && pass "eval lines in metrics.jsonl" || fail "no eval_loss line"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json \
    generation_config.json optimizer.safetensors trainer_state.json; do
    [ -f "$SCRATCH/out/checkpoint-60/$f" ] || fail "checkpoint-60/$f missing"
done
pass "checkpoint-60 holds the HF files, optimizer and trainer state"
[ -d "$SCRATCH/out/checkpoint-40" ] && [ ! -d "$SCRATCH/out/checkpoint-20" ] &&
    pass "save_total_limit 2 removed checkpoint-20" || fail "rotation: $(ls "$SCRATCH/out")"
[ -f "$SCRATCH/out/final_model/model.safetensors" ] &&
    [ -f "$SCRATCH/out/final_model/tokenizer.json" ] && pass "final_model written" ||
    fail "final_model incomplete"
[ -z "$(find "$SCRATCH/out" -name '.tmp-*' -o -name '*.tmp.*')" ] &&
    pass "no temporaries left" || fail "temporaries left: $(find "$SCRATCH/out" -name '*tmp*')"
grep -q '"global_step": 60' "$SCRATCH/out/checkpoint-60/trainer_state.json" &&
    pass "trainer_state.json records the step" || fail "trainer_state.json lacks global_step 60"

# ---- a second fresh run into the same folder is refused -----------------------------------
run_cli again --config "$SCRATCH/tiny.conf"
expect_rc 2 "a fresh run into a folder with checkpoints"
expect_grep "$ERR" "--resume" "the message says how to continue"

# ---- a finished run resumes to nothing new ------------------------------------------------
run_cli done --config "$SCRATCH/tiny.conf" --resume
expect_rc 0 "resuming a finished run"

# ---- bad configs ----------------------------------------------------------------------------
printf '{"batch_size": "16"}\n' >"$SCRATCH/bad1.conf"
run_cli bad_type --config "$SCRATCH/bad1.conf" $COMMON --output-dir "$SCRATCH/o1"
expect_rc 2 "a string where an integer belongs"
expect_grep "$ERR" '"batch_size" must be an integer' "the wrong type names the key"
expect_grep "$ERR" "bad1.conf:1" "the wrong type names the file and line"
printf '{\n  "lr": 1e-5,\n  "save_steps": 10.5\n}\n' >"$SCRATCH/bad2.conf"
run_cli bad_int --config "$SCRATCH/bad2.conf" $COMMON --output-dir "$SCRATCH/o2"
expect_rc 2 "a fraction where an integer belongs"
expect_grep "$ERR" 'bad2.conf:3: "save_steps" must be an integer, not 10.5' "names key, line and value"
printf '{"lr_scheduler_type": "cosine_with_restarts_and_more"}\n' >"$SCRATCH/bad3.conf"
run_cli bad_sched --config "$SCRATCH/bad3.conf" $COMMON --output-dir "$SCRATCH/o3"
expect_rc 2 "an unknown schedule"
expect_grep "$ERR" "cosine_with_restarts_and_more" "the unknown schedule is named"
printf '{"lr": 1e-5,, }\n' >"$SCRATCH/bad4.conf"
run_cli bad_json --config "$SCRATCH/bad4.conf" $COMMON --output-dir "$SCRATCH/o4"
expect_rc 2 "malformed JSON"
expect_grep "$ERR" "bad4.conf:1" "malformed JSON: file and line"
run_cli no_conf --config "$SCRATCH/nope.conf" $COMMON --output-dir "$SCRATCH/o5"
expect_rc 2 "a missing config file"
expect_grep "$ERR" "nope.conf" "the missing config is named"
run_cli bad_preset --backend cpu --preset enormous --data "$SCRATCH/data" --output-dir "$SCRATCH/o6"
expect_rc 2 "an unknown preset"
expect_grep "$ERR" "enormous" "the unknown preset is named"
run_cli bad_backend $COMMON --backend tpu --output-dir "$SCRATCH/o7"
expect_rc 2 "an unknown backend"
expect_grep "$ERR" "tpu" "the unknown backend is named"

# ---- missing data ----------------------------------------------------------------------------
run_cli no_train --backend cpu --preset tiny --train-file "$SCRATCH/missing_train.jsonl" \
    --output-dir "$SCRATCH/o8"
expect_rc 1 "a missing training file"
expect_grep "$ERR" "missing_train.jsonl" "the missing training file names itself"
printf '{"nums":[1,2],"target":3,"search_path":"1+2=3\\nGoal Reached!"}\n{"nums":[1,2]}\n' \
    >"$SCRATCH/badrow.jsonl"
run_cli bad_row --backend cpu --preset tiny --train-file "$SCRATCH/badrow.jsonl" \
    --output-dir "$SCRATCH/o9"
expect_rc 1 "a bad training row"
expect_grep "$ERR" "badrow.jsonl:2: target" "the bad row is named by file:line and column"

finish
