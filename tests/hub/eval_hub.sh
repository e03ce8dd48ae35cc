# eval_hub.sh — selfbt-eval --ckpt with a Hub model id, against fake_hub.py on loopback serving
# the bundled model's folder: the files come into the cache (HF_ENDPOINT, HF_HUB_CACHE), the
# results equal those of the folder itself, the default results file lands in the working
# folder (not the cache), the cache alone serves it once the server is gone (HF_HUB_OFFLINE),
# and a missing repo is an error that names it.
# Run by ctest as: sh eval_hub.sh <selfbt-eval> <scratch folder>, with SELFBT_DATA (the
# selfbt-data tool) and MODEL_DIR (models/countdown-small) set. Exits 77 without python3.
TOOL=selfbt-eval
. "$(dirname "$0")/../shell_lib.sh"
. "$HERE/hub_lib.sh"

"$SELFBT_DATA" --out "$SCRATCH/data" --train-problems 5 --val 4 --val-new 2 --quiet ||
    { echo "selfbt-data failed" >&2; exit 2; }

start_fake_hub --model-dir "test-org/countdown-small=$MODEL_DIR"
CACHE=$SCRATCH/cache
ARGS="--data_dir $SCRATCH/data --num 4 --b 1 --n 4 --backend cpu --threads 1 --quiet"

# the folder itself, for reference
run_cli folder --ckpt "$MODEL_DIR" $ARGS --out "$SCRATCH/folder.json"
expect_rc 0 "the model's folder"

# the same model by its Hub id: fetched into the cache, results beside the caller
cd "$SCRATCH" || exit 2
export HF_ENDPOINT="$EP" HF_HUB_CACHE="$CACHE"
run_cli hub --ckpt test-org/countdown-small $ARGS
expect_rc 0 "a Hub model id"
RES=$SCRATCH/results_val_0_4_self_backtrack.json
if [ -f "$RES" ]; then pass "the results file is in the working folder"; else fail "no $RES"; fi
if [ -f "$CACHE/models--test-org--countdown-small/snapshots/"*/model.safetensors ]; then
    pass "the weights are in the cache"
else
    fail "no weights under $CACHE/models--test-org--countdown-small/snapshots"
fi
# the outputs (not the timings) equal the folder's
outputs() {
    "$PYTHON3" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(json.dumps([d["output"], d["accuracy"]]))' "$1"
}
outputs "$SCRATCH/folder.json" >"$SCRATCH/folder.outputs"
outputs "$RES" >"$SCRATCH/hub.outputs"
expect_same "$SCRATCH/hub.outputs" "$SCRATCH/folder.outputs" "Hub id and folder give the same outputs"

run_cli missing --ckpt test-org/nope $ARGS
expect_rc 1 "a missing repo"
expect_grep "$ERR" "test-org/nope" "the message names the repo"

# the server goes away: the cache alone must do
stop_fake_hub
export HF_HUB_OFFLINE=1
run_cli offline --ckpt test-org/countdown-small $ARGS --out "$SCRATCH/offline.json"
expect_rc 0 "offline, from the cache"
outputs "$SCRATCH/offline.json" >"$SCRATCH/offline.outputs"
expect_same "$SCRATCH/offline.outputs" "$SCRATCH/folder.outputs" "offline gives the same outputs"
finish
