#!/usr/bin/env bash
# gpu_check.sh OUT_DIR: the ONE prepared script for the GPU machine (H200), under 8 min.
#   1. unpack the engine's Debian libraries (.gpu-debs, made by bench/gpu_prepare.sh) into
#      a prefix, 2. engine-only build with CUDA (-Dservice=disabled), 3. the cuda suite
#      (every op vs its CPU twin, the ViT-B/14 tower vs the CPU tower), 4. the benchmarks:
#      engine bf16 ViT-B/14-reg at 518 batch 1/4/16/64 and the bf16 GEMM rate, beside
#      PyTorch bf16 SDPA eager and torch.compile. Everything goes to OUT_DIR.
# From the device tool: run(command="bash bench/gpu_check.sh $OUT", carry=[".gpu-debs"]).
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
exec > >(tee "$out/gpu_check.log") 2>&1
t0=$(date +%s)
stage() { echo "=== $1 ($(( $(date +%s) - t0 )) s)"; }

stage "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
nproc; python3 -c 'import torch; print("torch", torch.__version__)' || true

stage "engine libraries from .gpu-debs"
prefix=/tmp/mama-prefix
mkdir -p "$prefix"
for f in .gpu-debs/*.deb; do dpkg -x "$f" "$prefix"; done
lib=$prefix/usr/lib/x86_64-linux-gnu
# dpkg -x runs no alternatives: give the linker the names Debian's links would
[ -e "$lib/libopenblas.so" ] || ln -sf openblas-pthread/libopenblas.so "$lib/libopenblas.so"
export PKG_CONFIG_PATH=$lib/pkgconfig:$prefix/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$prefix
export PATH=$prefix/usr/bin:$PATH
export LD_LIBRARY_PATH=$lib:$lib/openblas-pthread:${LD_LIBRARY_PATH:-}
export LIBRARY_PATH=$lib:$lib/openblas-pthread
export C_INCLUDE_PATH=$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu

stage "build (engine only, CUDA)"
command -v meson >/dev/null || python3 -m pip install -q --no-index meson ninja 2>/dev/null
meson setup build-gpu -Dservice=disabled -Dcuda=enabled -Dbuildtype=release \
  >"$out/meson-setup.log" 2>&1 || { tail -30 "$out/meson-setup.log"; exit 1; }
ninja -C build-gpu -j"$(nproc)" >"$out/ninja.log" 2>&1 || { tail -40 "$out/ninja.log"; exit 1; }

stage "cuda suite"
meson test -C build-gpu --suite cuda --print-errorlogs --timeout-multiplier 2 \
  >"$out/cuda_suite.log" 2>&1
cat "$out/cuda_suite.log" | tail -25
stage "engine CPU suite on this machine (quick)"
meson test -C build-gpu --suite quick --num-processes 8 2>&1 | tail -8

stage "benchmarks"
./build-gpu/bench/gpu_vit_bench --batches 1,4,16,64 --iters 10 | tee "$out/engine_vit.txt"
timeout 240 python3 bench/gpu_torch_vit.py --batches 1,4,16,64 --iters 10 | tee "$out/torch_vit.txt"
stage "done"
