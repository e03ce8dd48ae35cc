# eval_decoders.sh — selfbt-eval on a tiny random checkpoint: every decoder runs and writes the
# seed's results JSON under the seed's name (schema checked with python3 when present), --num
# and --offset select rows [offset, num), --data val reads data_dir/val.jsonl, the output does
# not depend on --batch, and the summary prints both accuracies, failures and the speed.
TOOL=selfbt-eval
. "$(dirname "$0")/../shell_lib.sh"

CKPT=$SCRATCH/ckpt
"$MAKE_CKPT" "$CKPT" || { fail "make_tiny_ckpt"; finish; }
DATA=$SCRATCH/probs.jsonl
cat >"$DATA" <<'JSONL'
{"nums": [2, 39, 45, 10], "target": 62, "search_path": "45-39=6\n10*6=60\n2+60=62\nGoal Reached!"}
{"nums": [84, 53, 80, 88], "target": 75}
{"nums": [27, 15, 8, 8], "target": 29}
{"nums": [44, 5, 3, 85], "target": 49}
{"nums": [1, 2, 3, 4], "target": 10}
{"nums": [9, 9, 1, 2], "target": 20}
JSONL

# check_json FILE N: the seed's schema: {"output": [N x {model_output, is_backtrack,
# failed_step, is_correct}], "accuracy": float} (and our extra top-level keys)
check_json() {
    if [ -z "$PYTHON3" ]; then
        expect_grep "$1" '"model_output": "<|begin_of_text|>###Question: numbers [' "$(basename "$1"): model_output"
        expect_grep "$1" '"accuracy": ' "$(basename "$1"): accuracy"
        return
    fi
    if "$PYTHON3" - "$1" "$2" <<'PY'; then pass "$(basename "$1"): the seed's schema, $2 rows"; else fail "$(basename "$1"): schema"; fi
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert isinstance(d["output"], list) and len(d["output"]) == n, len(d["output"])
for o in d["output"]:
    assert list(o.keys()) == ["model_output", "is_backtrack", "failed_step", "is_correct"], o.keys()
    assert isinstance(o["model_output"], str) and o["model_output"].startswith("<|begin_of_text|>###Question: numbers [")
    assert isinstance(o["is_backtrack"], bool) and isinstance(o["is_correct"], bool)
    assert isinstance(o["failed_step"], str) and (o["failed_step"] == "") == o["is_correct"]
acc = d["accuracy"]
assert isinstance(acc, float) and 0 <= acc <= 1
assert abs(acc - sum(o["is_correct"] for o in d["output"]) / n) < 1e-12
for k in ("accuracy_reference", "accuracy_strict", "failures", "decoder", "problems_per_s", "tokens_per_s"):
    assert k in d, k
PY
}

for dec in greedy beam beam_sample sample self_backtrack; do
    run_cli "$dec" --ckpt "$CKPT" --data "$DATA" --num 6 --decoder "$dec" --n 3 --b 1 --quiet --backend cpu --threads 2
    expect_rc 0 "--decoder $dec"
    RES=$CKPT/results_probs_0_6_$dec.json
    if [ -s "$RES" ]; then
        pass "$dec: wrote $(basename "$RES")"
        check_json "$RES" 6
    else
        fail "$dec: $(basename "$RES") not written"
    fi
    expect_grep "$OUT" "accuracy  reference" "$dec: prints the reference accuracy"
    expect_grep "$OUT" "strict" "$dec: prints the strict accuracy"
    expect_grep "$OUT" "problems/s" "$dec: prints problems/s"
    expect_grep "$OUT" "tokens/s" "$dec: prints tokens/s"
done

# rows [offset, num) as the seed; --data val from data_dir; --out
mkdir -p "$SCRATCH/d" && cp "$DATA" "$SCRATCH/d/val.jsonl"
run_cli val --ckpt "$CKPT" --data val --data_dir "$SCRATCH/d" --offset 1 --num 4 --decoder greedy --quiet --backend cpu
expect_rc 0 "--data val --offset 1 --num 4"
[ -s "$CKPT/results_val_1_4_greedy.json" ] && check_json "$CKPT/results_val_1_4_greedy.json" 3 ||
    fail "results_val_1_4_greedy.json not written"
expect_grep "$OUT" "3 problems (val rows 1..3)" "the summary names the rows"

# the batch does not change the output
for bt in 1 4; do
    run_cli "batch$bt" --ckpt "$CKPT" --data "$DATA" --decoder self_backtrack --n 4 --b 1 --width fixed --k 2 \
        --batch "$bt" --seed 9 --quiet --backend cpu --out "$SCRATCH/b$bt.json"
    expect_rc 0 "--batch $bt"
    sed -n '/"output"/,/"accuracy"/p' "$SCRATCH/b$bt.json" >"$SCRATCH/b$bt.out"
done
expect_same "$SCRATCH/b1.out" "$SCRATCH/b4.out" "self_backtrack output is the same with --batch 1 and 4"
[ -s "$SCRATCH/b1.out" ] || fail "empty output"

# strict verifier in the JSON
run_cli strict --ckpt "$CKPT" --data "$DATA" --decoder greedy --verifier strict --quiet --backend cpu --out "$SCRATCH/s.json"
expect_rc 0 "--verifier strict"
expect_grep "$SCRATCH/s.json" '"verifier": "strict"' "the JSON names the verifier"
finish
