#!/usr/bin/env bash
# run_decode_bench.sh — the self-backtracking search (b=1, N=32), ours vs the seed's algorithm
# re-run with transformers (bench/hf_baseline.py), same checkpoint, same problems, same card.
#
#   bench/run_decode_bench.sh BIN_DIR CKPT [NUM] [BATCH]
#
# BIN_DIR holds selfbt-data and selfbt-eval of a CUDA build; CKPT is an HF checkpoint folder
# with its tokenizer. Needs a GPU and python3 with torch + transformers.
set -euo pipefail
bin=$1 ckpt=$2 num=${3:-30} batch=${4:-64}
work=$(mktemp -d)
"$bin/selfbt-data" --out "$work/d" --train-problems 10 --val "$num" --val-new 10 --quiet
nvidia-smi --query-gpu=name --format=csv,noheader
PYTHONUNBUFFERED=1 python3 "$(dirname "$0")/hf_baseline.py" --ckpt "$ckpt" \
    --data "$work/d/val.jsonl" --num "$num" --b 1 --n 32 --out "$work/hf.json" 2>&1 |
    grep -v -i "warn\|Loading weights"
"$bin/selfbt-eval" --ckpt "$ckpt" --data val --data_dir "$work/d" --num "$num" --b 1 --n 32 \
    --backend cuda --batch "$batch" --out "$work/ours.json" --quiet
