# eval_bad_flags.sh — selfbt-eval refuses bad flags and missing inputs with a message naming
# them, and writes nothing.
TOOL=selfbt-eval
. "$(dirname "$0")/../shell_lib.sh"

CKPT=$SCRATCH/ckpt
"$MAKE_CKPT" "$CKPT" || { fail "make_tiny_ckpt"; finish; }
printf '{"nums": [1, 2, 3, 4], "target": 10}\n' >"$SCRATCH/p.jsonl"

run_cli none --data "$SCRATCH/p.jsonl"
expect_rc 2 "no --ckpt"
expect_grep "$ERR" "--ckpt is required" "names --ckpt"
run_cli dec --ckpt "$CKPT" --data "$SCRATCH/p.jsonl" --decoder nope
expect_rc 2 "--decoder nope"
expect_grep "$ERR" "unknown decoder 'nope'" "names the decoder"
run_cli ver --ckpt "$CKPT" --data "$SCRATCH/p.jsonl" --verifier lax
expect_rc 2 "--verifier lax"
expect_grep "$ERR" "--verifier: 'lax'" "names the verifier"
run_cli nofile --ckpt "$CKPT" --data "$SCRATCH/missing.jsonl"
expect_rc 1 "a missing data file"
expect_grep "$ERR" "missing.jsonl" "names the file"
run_cli nosplit --ckpt "$CKPT" --data val_new --data_dir "$SCRATCH/empty"
expect_rc 1 "--data val_new without files"
expect_grep "$ERR" "val_backtrack.json" "says what it looked for"
run_cli noprob --ckpt "$CKPT" --data "$SCRATCH/p.jsonl" --offset 5
expect_rc 1 "--offset past the end"
expect_grep "$ERR" "no problems" "says there are no problems"
run_cli nockpt --ckpt "$SCRATCH/nockpt" --data "$SCRATCH/p.jsonl" --quiet --out "$SCRATCH/x.json"
expect_rc 1 "a missing checkpoint"
[ -e "$SCRATCH/x.json" ] && fail "a results file was written"
n=$(ls "$CKPT" | grep -c '^results_')
[ "$n" -eq 0 ] || fail "$n results files in the checkpoint folder"
finish
