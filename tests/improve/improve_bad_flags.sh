# improve_bad_flags.sh — selfbt-improve refuses bad flags and missing inputs with a message naming
# them, and writes nothing.
. "$(dirname "$0")/lib.sh"
make_data 4 4
OUTD=$SCRATCH/out
set -- --data_dir "$SCRATCH/data" --backend cpu --quiet

run_cli nomodel "$@" --output_dir "$OUTD"
expect_rc 2 "no --past_model"
expect_grep "$ERR" "--past_model is required" "names --past_model"
run_cli noout "$@" --past_model "$MODEL"
expect_rc 2 "no --output_dir"
expect_grep "$ERR" "--output_dir is required" "names --output_dir"
run_cli proto "$@" --past_model "$MODEL" --output_dir "$OUTD" --protocol inductive
expect_rc 2 "--protocol inductive"
expect_grep "$ERR" "'inductive'" "names the protocol"
run_cli data "$@" --past_model "$MODEL" --output_dir "$OUTD" --data test
expect_rc 2 "--data test"
expect_grep "$ERR" "--data: 'test'" "names --data"
run_cli ver "$@" --past_model "$MODEL" --output_dir "$OUTD" --verifier lax
expect_rc 2 "--verifier lax"
expect_grep "$ERR" "--verifier: 'lax'" "names the verifier"
run_cli n0 "$@" --past_model "$MODEL" --output_dir "$OUTD" --n 0
expect_rc 2 "--n 0"
expect_grep "$ERR" "--n" "names --n"
run_cli times "$@" --past_model "$MODEL" --output_dir "$OUTD" --times -1
expect_rc 2 "--times -1"
run_cli prob "$@" --past_model "$MODEL" --output_dir "$OUTD" --problems "$SCRATCH/data/val.jsonl"
expect_rc 2 "--problems with transductive"
expect_grep "$ERR" "--protocol heldout" "says --problems is for heldout"
run_cli nodata "$@" --past_model "$MODEL" --output_dir "$OUTD" --data_dir "$SCRATCH/empty"
expect_rc 1 "no evaluation data"
expect_grep "$ERR" "val_backtrack.json" "says what it looked for"
run_cli offset "$@" --past_model "$MODEL" --output_dir "$OUTD" --offset 10
expect_rc 1 "--offset past the end"
expect_grep "$ERR" "no problems" "says there are no problems"
run_cli missing "$@" --past_model "$SCRATCH/nomodel" --output_dir "$OUTD" --times 0
expect_rc 1 "a missing model"
expect_grep "$ERR" "nomodel" "names the model folder"
[ -e "$OUTD/report.json" ] && fail "a report was written"
finish
