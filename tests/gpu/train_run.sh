#!/usr/bin/env bash
# train_run.sh — issue #6 on the GPU: exact-resume difference on CUDA, then a from-scratch
# Countdown run end to end (selfbt-data, then selfbt-train with configs/countdown_scratch.conf).
#
#   tests/gpu/train_run.sh BIN_DIR OUT_DIR [MAX_STEPS]
#
# BIN_DIR holds selfbt-data and selfbt-train of a CUDA build. OUT_DIR receives resume.txt,
# train.log, metrics.jsonl and the final model's files (at most 8 files: the device limit).
set -euo pipefail
bin=$1 out=$2 steps=${3:-0}
work=$(mktemp -d)
mkdir -p "$out"
"$bin/selfbt-data" --out "$work/data" --quiet

# 1. resume on CUDA: 150 steps straight vs 50, then --resume from checkpoint-50
args="--backend cuda --preset tiny --data $work/data --dataset-percent 2 --batch-size 32
      --max-steps 150 --lr 3e-3 --log-steps 50 --eval-steps 0 --save-steps 50 --quiet"
"$bin/selfbt-train" $args --output-dir "$work/a"
mkdir -p "$work/c" && cp -r "$work/a/checkpoint-50" "$work/c/"
"$bin/selfbt-train" $args --output-dir "$work/c" --resume --ckpt "$work/c/checkpoint-50"
python3 - "$work/a/final_model/model.safetensors" "$work/c/final_model/model.safetensors" \
    >"$out/resume.txt" <<'PY'
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
rel = max(((a[k].double() - b[k].double()).norm() / a[k].double().norm()).item() for k in a)
same = all(a[k].equal(b[k]) for k in a)
print(f"CUDA resume after 50 of 150 steps: bit-identical={same} max|diff|={worst:.3e} "
      f"worst tensor rel diff={rel:.3e}")
PY
cat "$out/resume.txt"

# 2. from scratch, the shipped config
extra=()
[ "$steps" != 0 ] && extra=(--max-steps "$steps")
set +e
timeout "${SBT_TRAIN_TIMEOUT:-420}" "$bin/selfbt-train" --config configs/countdown_scratch.conf \
    --data "$work/data" --backend cuda --output-dir "$work/run" --save-steps 5000 "${extra[@]}" 2>&1 | tr '\r' '\n' | grep -v "^ *$" \
    | grep -v "^step .*ETA" >"$out/train.log"
rc=${PIPESTATUS[0]}
set -e
tail -25 "$out/train.log"
cp "$work/run/metrics.jsonl" "$out/" 2>/dev/null || true
final="$work/run/final_model"   # or, if the time ran out, the newest checkpoint
[ -f "$final/model.safetensors" ] || final=$(ls -d "$work"/run/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1)
echo "model from: ${final:-nothing}" >>"$out/train.log"
for f in model.safetensors config.json tokenizer.json tokenizer_config.json; do
    cp "$final/$f" "$out/" 2>/dev/null || true
done
exit "$rc"
