#!/usr/bin/env bash
# run_gpu_checks.sh — every GPU check of libselfbt in one go, with a summary table at the end.
#
#   tests/gpu/run_gpu_checks.sh BIN_DIR OUT_DIR [--sanitize]
#
# BIN_DIR holds test_backend_cuda, test_model_golden and model_check built with
# -DSELFBT_CUDA=ON (a build's tests/ folder, or a copy of it); OUT_DIR receives the logs and
# the Llama-3.2-1B check's files. Needs a GPU, and python3 with torch + transformers for the
# Llama-3.2-1B check. --sanitize also runs compute-sanitizer memcheck and racecheck on the op
# tests.
set -uo pipefail
bin=${1:?usage: run_gpu_checks.sh BIN_DIR OUT_DIR [--sanitize]}
out=${2:?usage: run_gpu_checks.sh BIN_DIR OUT_DIR [--sanitize]}
sanitize=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
declare -a names results

run() { # run NAME COMMAND...: logs to OUT/NAME.log, records PASS/FAIL/SKIP and the seconds
    local name=$1 t0=$SECONDS rc
    shift
    "$@" >"$out/$name.log" 2>&1
    rc=$?
    case $rc in 0) r=PASS ;; 77) r=SKIP ;; *) r="FAIL($rc)" ;; esac
    names+=("$name")
    results+=("$r $((SECONDS - t0))s")
    printf '%-28s %s\n' "$name" "$r"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
run ops_vs_cpu env CK_NOFORK=1 "$bin/test_backend_cuda"
run golden_tiny_models env SBT_TEST_BACKEND=cuda CK_DEFAULT_TIMEOUT=300 \
    SBT_TEST_DATA_DIR="$here/../golden" "$bin/test_model_golden"
run llama_3_2_1b_config python3 "$here/../golden/check_llama1b.py" \
    --model-check "$bin/model_check" --out "$out/llama1b"
if [ "$sanitize" = --sanitize ]; then
    run memcheck_ops env CK_NOFORK=1 compute-sanitizer --tool memcheck --error-exitcode 3 \
        "$bin/test_backend_cuda"
    # racecheck on our kernels only: cuBLASLt's (nvjet, xmma, cutlass) and cuDNN's own kernels
    # synchronise in ways racecheck reports as hazards. Slow: give it 15 minutes or more.
    run racecheck_ops env CK_NOFORK=1 compute-sanitizer --tool racecheck --error-exitcode 3 \
        --kernel-name-exclude kns=nvjet --kernel-name-exclude kns=xmma \
        --kernel-name-exclude kns=cutlass --kernel-name-exclude kns=cudnn "$bin/test_backend_cuda"
fi

echo
echo "== summary ($(head -1 "$out/gpu.txt"))"
for i in "${!names[@]}"; do
    printf '%-28s %s\n' "${names[$i]}" "${results[$i]}"
done
grep -h "max rel\|rel err\|logits\|OK:\|FAIL:" "$out"/golden_tiny_models.log "$out"/llama_3_2_1b_config.log 2>/dev/null | head -20
! printf '%s\n' "${results[@]}" | grep -q FAIL
