#!/usr/bin/env bash
# Run HERE (a Debian machine with apt) before bench/gpu_check.sh: downloads the engine's
# own Debian libraries (the GPU machine's image has nvcc, PyTorch, meson and ninja but no
# apt and no network) into .gpu-debs/ (git-ignored), which the device call carries.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-debs
excl=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$excl")"
grep -qx '/.gpu-debs/' "$excl" 2>/dev/null || echo '/.gpu-debs/' >> "$excl"
cd .gpu-debs
apt-get download libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev \
  libjansson-dev libjansson4 libpng-dev libpng16-16 zlib1g-dev libgomp1 pkg-config pkgconf \
  libpkgconf3 pkgconf-bin 2>&1 | tail -1
# oneDNN when the CPU GEMM uses it (issue 13): carried if the build asks for it
apt-get download libdnnl-dev libdnnl2 2>/dev/null || true
du -sh .
