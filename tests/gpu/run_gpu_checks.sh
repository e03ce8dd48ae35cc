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

# sanitizer TOOL NAME [ARGS...]: compute-sanitizer --tool TOOL on the op tests, quick mode,
# stopped after SBT_SANITIZE_TIMEOUT seconds (TERM, then KILL 30 s later)
sanitizer() {
    local tool=$1 name=$2
    shift 2
    run "$name" env CK_NOFORK=1 SBT_TEST_QUICK="$quick" timeout --kill-after=30 "$limit" \
        compute-sanitizer --tool "$tool" --error-exitcode 3 "$@" "$bin/test_backend_cuda"
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
    sanitizer memcheck memcheck_ops
    # racecheck on our kernels only: cuBLASLt's (nvjet, xmma, cutlass) and cuDNN's own kernels
    # synchronise in ways racecheck reports as hazards.
    sanitizer racecheck racecheck_ops --kernel-name-exclude kns=nvjet \
        --kernel-name-exclude kns=xmma --kernel-name-exclude kns=cutlass \
        --kernel-name-exclude kns=cudnn
fi

echo
echo "== summary ($(head -1 "$out/gpu.txt"))"
for i in "${!names[@]}"; do
    printf '%-28s %s\n' "${names[$i]}" "${results[$i]}"
done
if [ -n "$sanitize" ]; then
    echo "(sanitizers: op tests in $([ "$quick" = 1 ] && echo quick || echo full-size) mode," \
        "limit ${limit}s each; their reports: the end of $out/memcheck_ops.log and" \
        "$out/racecheck_ops.log)"
    grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$out"/memcheck_ops.log "$out"/racecheck_ops.log \
        2>/dev/null
fi
if [ "$sanitize" != --sanitize-only ]; then
    grep -h "max rel\|rel err\|logits\|OK:\|FAIL:" "$out"/golden_tiny_models.log \
        "$out"/llama_3_2_1b_config.log 2>/dev/null | head -20
fi
! printf '%s\n' "${results[@]}" | grep -q "FAIL\|timeout"
