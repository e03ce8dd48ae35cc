#!/usr/bin/env bash
# run_gpu_checks.sh — every GPU check of libselfbt in one go, with a summary table at the end.
#
#   tests/gpu/run_gpu_checks.sh BIN_DIR OUT_DIR [--sanitize | --sanitize-only]
#
# BIN_DIR holds test_backend_cuda, test_select_cuda, test_graph_cuda, test_model_golden and
# model_check built with -DSELFBT_CUDA=ON (a build's tests/ folder, or a copy of it); OUT_DIR
# receives the logs and the Llama-3.2-1B check's files. Needs a GPU, and python3 with torch +
# transformers for the Llama-3.2-1B check. --sanitize also runs compute-sanitizer memcheck and
# racecheck on the op tests; --sanitize-only runs those two alone.
#
# The sanitizers run the op tests in their quick mode (SBT_TEST_QUICK=1 in test_backend_cuda:
# small shapes that still cover every op, attention mode and kernel path; racecheck over the
# full-size suite ran more than 330 s without finishing), each under a time limit:
#   SBT_SANITIZE_TIMEOUT  seconds per sanitizer tool (default 240: both fit in one 10-minute
#                         device command); the table says 'timeout' when it is reached, the
#                         log keeps what the tool reported so far, and the script exits 1
#   SBT_SANITIZE_QUICK=0  the full-size suite under the sanitizers instead (slow: give it a
#                         large SBT_SANITIZE_TIMEOUT)
#   SBT_SANITIZE_TESTS    which tests the sanitizers run (default "ops select graphs": the op,
#                         select and decode-graph tests)
set -uo pipefail
usage="usage: run_gpu_checks.sh BIN_DIR OUT_DIR [--sanitize | --sanitize-only]"
bin=${1:?$usage}
out=${2:?$usage}
sanitize=${3:-}
case $sanitize in
    "" | --sanitize | --sanitize-only) ;;
    *) echo "run_gpu_checks.sh: unknown option '$sanitize'; $usage" >&2; exit 2 ;;
esac
limit=${SBT_SANITIZE_TIMEOUT:-240}
case $limit in
    '' | *[!0-9]*) echo "run_gpu_checks.sh: SBT_SANITIZE_TIMEOUT must be whole seconds" >&2; exit 2 ;;
esac
quick=1
[ "${SBT_SANITIZE_QUICK:-1}" = 0 ] && quick=0
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
declare -a names results

run() { # run NAME COMMAND...: logs to OUT/NAME.log, records PASS/FAIL/SKIP/timeout and the seconds
    local name=$1 t0=$SECONDS rc r
    shift
    "$@" >"$out/$name.log" 2>&1
    rc=$?
    case $rc in
        0) r=PASS ;;
        77) r=SKIP ;;
        124 | 137) r=timeout ;; # timeout(1): the limit was reached (137: killed after the grace)
        *) r="FAIL($rc)" ;;
    esac
    names+=("$name")
    results+=("$r $((SECONDS - t0))s")
    printf '%-28s %s\n' "$name" "$r"
}

# sanitizer TOOL NAME TEST [ARGS...]: compute-sanitizer --tool TOOL on a GPU test in its quick
# mode (SBT_TEST_QUICK=1: smaller shapes, a shorter graph script, no timing), stopped after
# SBT_SANITIZE_TIMEOUT seconds (TERM, then KILL 30 s later)
sanitizer() {
    local tool=$1 name=$2 test=$3 plain=()
    shift 3
    [ "$tool" = racecheck ] && plain=(SBT_CUDA_MATMUL=plain SBT_CUDA_ATTENTION=plain)
    run "$name" env CK_NOFORK=1 SBT_TEST_QUICK="$quick" "${plain[@]}" timeout --kill-after=30 \
        "$limit" compute-sanitizer --tool "$tool" --error-exitcode 3 "$@" "$bin/$test"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
if [ "$sanitize" != --sanitize-only ]; then
    run ops_vs_cpu env CK_NOFORK=1 "$bin/test_backend_cuda"
    run select_vs_cpu env CK_NOFORK=1 "$bin/test_select_cuda"
    run decode_graphs env CK_NOFORK=1 "$bin/test_graph_cuda"
    run golden_tiny_models env SBT_TEST_BACKEND=cuda CK_DEFAULT_TIMEOUT=300 \
        SBT_TEST_DATA_DIR="$here/../golden" "$bin/test_model_golden"
    run llama_3_2_1b_config python3 "$here/../golden/check_llama1b.py" \
        --model-check "$bin/model_check" --out "$out/llama1b"
fi
if [ -n "$sanitize" ]; then
    # racecheck on our kernels only: cuBLASLt's (nvjet, xmma, cutlass, its gemv and split-K
    # kernels) and cuDNN's own kernels synchronise in ways racecheck reports as hazards, and
    # racecheck fails inside cuBLASLt's Hopper kernels ("failed to handle a hardware
    # exception", CUDA 13.0) where memcheck finds nothing, even with them excluded by name: so
    # racecheck runs with every product and attention on our plain kernels
    # (SBT_CUDA_MATMUL=plain, SBT_CUDA_ATTENTION=plain), and the names stay excluded.
    vendor=()
    for k in nvjet xmma cutlass cudnn cublas gemv splitK sm90_ sm80_ sm75_; do
        vendor+=(--kernel-name-exclude "kns=$k")
    done
    # memcheck: the op tests ask for 16 TiB on purpose (the out-of-memory path); that API error
    # is theirs to check, not memcheck's
    api=(--report-api-errors no)
    for t in ${SBT_SANITIZE_TESTS:-ops select graphs}; do
        case $t in
            ops) test=test_backend_cuda ;;
            select) test=test_select_cuda ;;
            graphs) test=test_graph_cuda ;;
            *) echo "run_gpu_checks.sh: SBT_SANITIZE_TESTS: unknown '$t'" >&2; exit 2 ;;
        esac
        sanitizer memcheck "memcheck_$t" "$test" "${api[@]}"
        sanitizer racecheck "racecheck_$t" "$test" "${vendor[@]}"
    done
fi

echo
echo "== summary ($(head -1 "$out/gpu.txt"))"
for i in "${!names[@]}"; do
    printf '%-28s %s\n' "${names[$i]}" "${results[$i]}"
done
if [ -n "$sanitize" ]; then
    echo "(sanitizers: op tests in $([ "$quick" = 1 ] && echo quick || echo full-size) mode," \
        "limit ${limit}s each; their reports: the end of $out/memcheck_*.log and" \
        "$out/racecheck_*.log)"
    for f in "$out"/memcheck_*.log "$out"/racecheck_*.log; do
        [ -f "$f" ] && echo "$(basename "$f" .log): $(grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$f")"
    done
fi
if [ "$sanitize" != --sanitize-only ]; then
    grep -h "max rel\|rel err\|logits\|OK:\|FAIL:" "$out"/golden_tiny_models.log \
        "$out"/llama_3_2_1b_config.log 2>/dev/null | head -20
fi
! printf '%s\n' "${results[@]}" | grep -q "FAIL\|timeout"
