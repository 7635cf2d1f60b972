#!/usr/bin/env bash
# The GPU path in one prepared run (fits one device call of at most 8 minutes on a fresh machine):
#   doctor → the CUDA-marked tests → benchmarks/gpu_check.py (JSON + markdown table under $OUT).
# Usage, from the repository root:  bash scripts/gpu_check.sh [OUTDIR]   (default: $OUT, else /tmp/gpu_check)
#   CPU mode (same table, tiny sizes; CI runs it through tests/unit/test_gpu_check.py):  GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh
# Nothing is downloaded. The GPU machine's image has its own torch/torchvision/opencv/onnxruntime; the project runs from the
# working tree (PYTHONPATH), so its pins do not apply there. Packages it lacks (pydensecrf2 for the CRF comparison, PySide6
# for the GUI-worker test) may be carried as wheels in .whl/ (see the device tool's README); without them those rows/tests say so.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$out"
device="${GPU_CHECK_DEVICE:-cuda}"
quick=""
[ "$device" = cpu ] && quick="--quick"
export PYTHONUNBUFFERED=1 QT_QPA_PLATFORM=offscreen
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)
echo "== segstudio doctor"; timeout 120 python3 -m segstudio doctor 2>&1 | tee "$out/doctor.txt"
rc_tests=0
if [ "$device" != cpu ]; then
  echo "== CUDA-marked tests"
  timeout 240 python3 -m pytest -q -p no:cacheprovider -o addopts="" -m cuda tests/cuda -rs 2>&1 | tee "$out/cuda_tests.txt"
  rc_tests=${PIPESTATUS[0]}
fi
echo "== measurements"
timeout 300 python3 benchmarks/gpu_check.py --device "$device" $quick --out "$out" 2>&1 | tee "$out/gpu_check.log"
rc_bench=${PIPESTATUS[0]}
echo "== done in $(( $(date +%s) - start )) s: tests rc=$rc_tests, measurements rc=$rc_bench; table: $out/gpu_check.md"
[ "$rc_tests" -eq 0 ] && [ "$rc_bench" -eq 0 ]
