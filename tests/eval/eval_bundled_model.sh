# eval_bundled_model.sh EVAL DATA MODEL SCRATCH — the README's demo, small: the bundled model
# on 40 val problems, greedy and self-backtracking (b=1, N=32); each must solve at least one
# problem (the model solves 20-30 %: 0 of 40 would mean a broken model or decoder).
set -u
EVAL=$1 DATA=$2 MODEL=$3 SCRATCH=$4
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH" || exit 1
"$DATA" --out "$SCRATCH/data" --train-problems 10 --val 40 --val-new 10 --quiet || exit 1
fails=0
for dec in greedy self_backtrack; do
    if ! "$EVAL" --ckpt "$MODEL" --data val --data_dir "$SCRATCH/data" --num 40 --decoder "$dec" \
        --backend cpu --out "$SCRATCH/$dec.json" --quiet >"$SCRATCH/$dec.out" 2>&1; then
        echo "FAIL: selfbt-eval --decoder $dec exited non-zero"; cat "$SCRATCH/$dec.out"
        fails=$((fails + 1)); continue
    fi
    cat "$SCRATCH/$dec.out"
    solved=$(sed -n 's/.*accuracy  reference \([0-9.]*\) %.*/\1/p' "$SCRATCH/$dec.out")
    case "$solved" in
        ""|0.00) echo "FAIL: $dec solved nothing ($solved)"; fails=$((fails + 1)) ;;
        *) echo "ok: $dec solved $solved %" ;;
    esac
done
[ "$fails" = 0 ]
