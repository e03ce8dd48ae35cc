#!/bin/sh
# reference_fixture.sh — makes the golden files of the tokenizer tests with Hugging Face's own
# `tokenizers` (the ctest fixtures of tests/tokenizer/CMakeLists.txt run it; it works by hand too).
#
#   sh reference_fixture.sh llama3 CACHE_DIR OUT_DIR
#       fetch_reference.sh CACHE_DIR, then OUT_DIR/corpus.tsv (corpus.js) and, for Meta's
#       Llama-3 tokenizer.json, OUT_DIR/golden_llama3.tsv (every corpus string) and
#       OUT_DIR/golden_llama3_backtrack.tsv (the same after addSpecialTokens(['<backtrack>'])).
#   sh reference_fixture.sh saved CACHE_DIR OUT_DIR TOKENIZER_DIR NAME [--expect FILE] [-- ARGS...]
#       OUT_DIR/golden_NAME.tsv: the corpus strings through TOKENIZER_DIR/tokenizer.json, a
#       tokenizer that libselfbt saved (ARGS go to make_golden.js, e.g. --kinds). With --expect,
#       its ids and decodes must equal those of FILE (made from the original tokenizer.json):
#       Hugging Face then reads what libselfbt wrote as it reads the original.
#
# Stale golden files are removed first, so that when this skips (exit 77: no node, npm or
# registry) the golden tests find nothing and skip too instead of comparing with old data.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MODE=${1:-}
CACHE=${2:-}
OUT=${3:-}
if [ -z "$MODE" ] || [ -z "$CACHE" ] || [ -z "$OUT" ]; then
    echo "usage: sh $0 llama3|saved CACHE_DIR OUT_DIR [TOKENIZER_DIR NAME [--expect FILE] [-- ARGS...]]" >&2
    exit 2
fi
mkdir -p "$OUT" || exit 1

case "$MODE" in
llama3)
    rm -f "$OUT/golden_llama3.tsv" "$OUT/golden_llama3_backtrack.tsv" "$OUT/corpus.tsv"
    sh "$HERE/fetch_reference.sh" "$CACHE"
    rc=$?
    [ $rc -eq 0 ] || exit $rc
    ;;
saved)
    TOKDIR=${4:-}
    NAME=${5:-}
    [ -n "$NAME" ] || { echo "reference_fixture.sh saved: give TOKENIZER_DIR and NAME" >&2; exit 2; }
    shift 5
    EXPECT=""
    if [ "${1:-}" = "--expect" ]; then
        EXPECT=$2
        shift 2
    fi
    [ "${1:-}" = "--" ] && shift
    rm -f "$OUT/golden_$NAME.tsv"
    if [ ! -f "$TOKDIR/tokenizer.json" ]; then
        echo "SKIP: no saved tokenizer at $TOKDIR/tokenizer.json (the save test failed or was skipped)"
        exit 77
    fi
    ;;
*)
    echo "reference_fixture.sh: unknown mode $MODE" >&2
    exit 2
    ;;
esac

if [ ! -f "$CACHE/reference.env" ]; then
    echo "SKIP: $CACHE/reference.env is missing: fetch_reference.sh did not complete (see the tokenizer.reference test)"
    exit 77
fi
. "$CACHE/reference.env"
command -v node >/dev/null 2>&1 || { echo "SKIP: node is not on PATH"; exit 77; }

golden() {
    node "$HERE/make_golden.js" --modules "$SBT_REF_MODULES" --corpus "$OUT/corpus.tsv" "$@" || exit 1
}

case "$MODE" in
llama3)
    node "$HERE/corpus.js" "$OUT/corpus.tsv" || exit 1
    golden --tokenizer "$SBT_REF_TOKENIZER_JSON" --out "$OUT/golden_llama3.tsv" --label llama3
    golden --tokenizer "$SBT_REF_TOKENIZER_JSON" --out "$OUT/golden_llama3_backtrack.tsv" \
        --label llama3+backtrack --add-special '<backtrack>'
    ;;
saved)
    [ -f "$OUT/corpus.tsv" ] || node "$HERE/corpus.js" "$OUT/corpus.tsv" || exit 1
    golden --tokenizer "$TOKDIR/tokenizer.json" --out "$OUT/golden_$NAME.tsv" --label "$NAME" "$@"
    if [ -n "$EXPECT" ]; then
        # The data lines (not the '#' header) must be the same.
        grep -v '^#' "$EXPECT" >"$OUT/golden_$NAME.expect.tmp"
        grep -v '^#' "$OUT/golden_$NAME.tsv" >"$OUT/golden_$NAME.got.tmp"
        if ! cmp -s "$OUT/golden_$NAME.expect.tmp" "$OUT/golden_$NAME.got.tmp"; then
            echo "FAIL: Hugging Face encodes differently with the tokenizer.json libselfbt saved" \
                "($TOKDIR) than with the original ($EXPECT):" >&2
            diff "$OUT/golden_$NAME.expect.tmp" "$OUT/golden_$NAME.got.tmp" | head -6 | cut -c1-300 >&2
            rm -f "$OUT/golden_$NAME.tsv"
            exit 1
        fi
        echo "Hugging Face reads the saved $NAME tokenizer as the original: $(wc -l <"$OUT/golden_$NAME.got.tmp") strings identical"
        rm -f "$OUT/golden_$NAME.expect.tmp" "$OUT/golden_$NAME.got.tmp"
    fi
    ;;
esac
exit 0
