#!/usr/bin/env bash
# make_bundled_model.sh — how models/countdown-small was made: the default Countdown data, a
# from-scratch training run (configs/countdown_bundled.conf: preset small, 3 epochs, the seed's
# padding quirk so the reference score works), then an evaluation on both splits.
#
#   scripts/make_bundled_model.sh BIN_DIR OUT_DIR [BACKEND] [EVAL_NUM]
#
# BIN_DIR holds selfbt-data, selfbt-train and selfbt-eval (a CUDA build for the GPU: the run
# takes about a minute on an H200). OUT_DIR receives the model files, metrics.jsonl, train.log
# and eval.log.
set -uo pipefail
bin=$1 out=$2 backend=${3:-cuda} num=${4:-1000}
work=$(mktemp -d)
mkdir -p "$out"
"$bin/selfbt-data" --out "$work/data" --quiet || exit 1
"$bin/selfbt-train" --config configs/countdown_bundled.conf --data "$work/data" \
    --backend "$backend" --output-dir "$work/run" --save-steps 0 2>&1 | tr '\r' '\n' \
    | grep -v "^ *$" | grep -v "ETA" >"$out/train.log"
final="$work/run/final_model"
[ -f "$final/model.safetensors" ] || { tail "$out/train.log"; exit 1; }
cp "$final"/{model.safetensors,config.json,tokenizer.json,tokenizer_config.json} "$out/"
cp "$work/run/metrics.jsonl" "$out/"
for split in val val_new; do
    for run in "greedy" "self_backtrack --b 1 --n 32 --scoring reference" \
               "self_backtrack --b 1 --n 32 --scoring clean" "self_backtrack --b 0 --n 8"; do
        echo "== $split: $run" >>"$out/eval.log"
        # shellcheck disable=SC2086
        "$bin/selfbt-eval" --ckpt "$final" --data "$split" --data_dir "$work/data" --num "$num" \
            --decoder $run --backend "$backend" --batch 64 --quiet \
            --out "$work/results.json" >>"$out/eval.log" 2>&1
    done
done
cat "$out/eval.log"
