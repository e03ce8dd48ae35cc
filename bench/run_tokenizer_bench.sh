#!/bin/sh
# run_tokenizer_bench.sh — libselfbt's tokenizer against Hugging Face's tokenizers (Rust, through
# its Node binding) on the same ~10 MB corpus, one thread each, and the ratio.
#
#   sh bench/run_tokenizer_bench.sh [BUILD_DIR] [RUNS]      (defaults: build, 5)
#
# Needs BUILD_DIR/bench/tokenizer_bench and BUILD_DIR/cli/selfbt-data (cmake --build BUILD_DIR),
# Node.js, and the reference packages (tests/tokenizer/fetch_reference.sh fetches them once into
# $SBT_NPM_CACHE, default BUILD_DIR/npm-cache). Files go to BUILD_DIR/bench-data.
# Set SBT_BENCH_COUNTDOWN=1 to also run the compact Countdown tokenizer.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
RUNS=${2:-5}
BUILD=$(cd "$BUILD" && pwd)
DATA=$BUILD/bench-data
CACHE=${SBT_NPM_CACHE:-$BUILD/npm-cache}
BENCH=$BUILD/bench/tokenizer_bench
mkdir -p "$DATA"
CORES=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?") # before OMP_NUM_THREADS, which nproc obeys
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1

[ -x "$BENCH" ] || { echo "run_tokenizer_bench.sh: $BENCH is missing: cmake --build $BUILD" >&2; exit 1; }
sh "$ROOT/tests/tokenizer/fetch_reference.sh" "$CACHE" >/dev/null || {
    echo "run_tokenizer_bench.sh: the HF reference is not available (see above)" >&2
    exit 1
}
. "$CACHE/reference.env"

# Countdown rows from the repo's own generator (25,000 problems: D_op + D_back rows), then the
# corpus: half Countdown, half generated prose.
if [ ! -f "$DATA/corpus.txt" ]; then
    if [ -x "$BUILD/cli/selfbt-data" ]; then
        "$BUILD/cli/selfbt-data" --out "$DATA/countdown" --train-problems 25000 --val 0 --val-new 0 \
            --seed 4 --quiet
        node "$ROOT/bench/make_corpus.js" "$DATA/corpus.txt" --countdown "$DATA/countdown/train.jsonl"
    else
        node "$ROOT/bench/make_corpus.js" "$DATA/corpus.txt"
    fi
fi

echo "== machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')"
echo "== corpus: $DATA/corpus.txt ($(wc -c <"$DATA/corpus.txt") bytes); best of $RUNS runs, one thread"

compare() { # compare NAME C-ARGS... -- HF-TOKENIZER-JSON
    _name=$1
    shift
    _c_args=""
    while [ "$1" != "--" ]; do _c_args="$_c_args $1"; shift; done
    _hf=$2
    echo "== $_name"
    # shellcheck disable=SC2086
    "$BENCH" $_c_args --corpus "$DATA/corpus.txt" --runs "$RUNS" | tee "$DATA/c_$_name.txt"
    node "$ROOT/bench/tokenizer_bench.js" --modules "$SBT_REF_MODULES" --tokenizer "$_hf" \
        --corpus "$DATA/corpus.txt" --runs "$RUNS" | tee "$DATA/hf_$_name.txt"
    c=$(sed -n 's/^RESULT selfbt_mb_s=\([0-9.]*\).*/\1/p' "$DATA/c_$_name.txt")
    c_tok=$(sed -n 's/^RESULT .* tokens=\([0-9]*\).*/\1/p' "$DATA/c_$_name.txt")
    hf=$(sed -n 's/^RESULT hf_best_mb_s=\([0-9.]*\).*/\1/p' "$DATA/hf_$_name.txt")
    hf_batch=$(sed -n 's/^RESULT .*hf_batch_mb_s=\([0-9.]*\).*/\1/p' "$DATA/hf_$_name.txt")
    hf_tok=$(sed -n 's/^RESULT .* tokens=\([0-9]*\).*/\1/p' "$DATA/hf_$_name.txt")
    c_sum=$(sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p' "$DATA/c_$_name.txt")
    hf_sum=$(sed -n 's/^RESULT .*checksum=\([0-9a-f]*\).*/\1/p' "$DATA/hf_$_name.txt")
    if [ "$c_tok" = "$hf_tok" ] && [ "$c_sum" = "$hf_sum" ]; then
        same="same $c_tok tokens and checksum"
    else
        same="TOKENS DIFFER: selfbt $c_tok ($c_sum), HF $hf_tok ($hf_sum)"
    fi
    awk -v n="$_name" -v c="$c" -v hf="$hf" -v hb="$hf_batch" -v s="$same" 'BEGIN {
        printf "== %s: selfbt %.2f MB/s, HF %.2f MB/s (fastest HF way; encodeBatch with ids %.2f): %.2fx (%s)\n",
               n, c, hf, hb, c / hf, s }' | tee -a "$DATA/summary.txt"
}

: >"$DATA/summary.txt"
compare llama3 --tokenizer "$(dirname "$SBT_REF_TOKENIZER_JSON")" -- "$SBT_REF_TOKENIZER_JSON"
if [ "${SBT_BENCH_COUNTDOWN:-0}" = 1 ] && [ -x "$BUILD/cli/selfbt-tokenize" ]; then
    "$BUILD/cli/selfbt-tokenize" --countdown --save "$DATA/countdown_tokenizer"
    compare countdown --countdown -- "$DATA/countdown_tokenizer/tokenizer.json"
fi
echo "== summary"
cat "$DATA/summary.txt"
