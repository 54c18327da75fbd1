#!/bin/sh
# slow_parity.sh: the image tower at the real size (width 768, 12 layers, 518 px, random
# weights) against Hugging Face Dinov2WithRegistersModel, generated at test time.
# usage: slow_parity.sh TEST_VIT_PARITY DINOV2_REF_PY OUTDIR
# Skips (exit 77) with a reason when torch/transformers are not importable.
set -u
bin=$1 script=$2 out=$3
if ! python3 -c "import torch, transformers, safetensors" >/dev/null 2>&1; then
    echo "SKIP: python3 cannot import torch, transformers and safetensors" \
         "(pip install torch transformers safetensors); the real-size parity case needs them"
    exit 77
fi
mkdir -p "$out" || exit 1
python3 "$script" --real --out "$out" || { echo "FAIL: reference generation failed"; exit 1; }
"$bin" "$out/real_hf.safetensors" "$out/real_io.safetensors"
rc=$?
rm -f "$out/real_hf.safetensors" "$out/real_io.safetensors"
exit $rc
