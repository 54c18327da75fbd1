#!/bin/sh
# vit_bench.sh: the image tower (ViT-B/14 with 4 registers at 518, fp32, CPU) in the engine
# and in PyTorch + Hugging Face Dinov2WithRegistersModel, side by side in one run: batch 1
# and 4, 1 and 2 threads; latency (best of ITERS after a warm-up), GFLOP/s (303 GFLOP per
# image), peak RSS, the ratio torch/engine; the machine's sgemm rate (bench/gemm_peak, the
# QKV shape) for scale, and the engine's per-op profile of one block.
# usage: bench/vit_bench.sh [BUILD_DIR] [ITERS] [CONFIG]   (defaults: build 2 base)
# OpenBLAS: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for these commands only, so
# OpenBLAS picks its kernel for this CPU; openblas_get_config() is printed. The machine may
# be shared: the 1-minute load average is printed beside every row.
set -eu
build=${1:-build}
iters=${2:-2}
config=${3:-base}
here=$(dirname "$0")
bench="$build/bench/vit_bench"
[ -x "$bench" ] && [ -x "$build/bench/gemm_peak" ] || { echo "build first: ninja -C $build"; exit 1; }
E="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
load() { cut -d' ' -f1 /proc/loadavg; }
echo "date: $(date -u +%FT%TZ)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
peaks=$($E "$build/bench/gemm_peak" 2)
echo "$peaks"
# best of OpenBLAS and engine threading on the QKV shape, per thread count
peak1=$(echo "$peaks" | awk '/vit qkv/ {print ($4 > $5 ? $4 : $5)}')
peak2=$(echo "$peaks" | awk '/vit qkv/ {print ($6 > $7 ? $6 : $7)}')
have_torch=1
python3 -c "import torch, transformers" 2>/dev/null || have_torch=0
printf '%-7s %-5s %-6s %10s %10s %8s %8s %9s %7s %6s\n' threads batch who best_ms mean_ms GFLOP/s peak_MB torch/eng %sgemm load1
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
for t in 1 2; do
    peak=$([ $t = 1 ] && echo "$peak1" || echo "$peak2")
    for b in 1 4; do
        e=$($E OMP_NUM_THREADS=$t "$bench" --threads $t --batch $b --iters "$iters" --config "$config" | grep '^engine')
        eb=$(field "$e" best_ms); eg=$(field "$e" gflops)
        pct=$(awk -v g="$eg" -v p="$peak" 'BEGIN{printf "%.0f%%", 100*g/p}')
        printf '%-7s %-5s %-6s %10s %10s %8s %8s %9s %7s %6s\n' $t $b engine "$eb" "$(field "$e" mean_ms)" \
            "$eg" "$(field "$e" peak_rss_mb)" "" "$pct" "$(load)"
        if [ $have_torch = 1 ]; then
            p=$($E OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t python3 "$here/vit_torch.py" --threads $t --batch $b --iters "$iters" --config "$config" | grep '^torch')
            pb=$(field "$p" best_ms); pg=$(field "$p" gflops)
            ratio=$(awk -v a="$pb" -v b="$eb" 'BEGIN{printf "%.2f", a/b}')
            pct=$(awk -v g="$pg" -v p="$peak" 'BEGIN{printf "%.0f%%", 100*g/p}')
            printf '%-7s %-5s %-6s %10s %10s %8s %8s %9s %7s %6s\n' $t $b torch "$pb" "$(field "$p" mean_ms)" \
                "$pg" "$(field "$p" peak_rss_mb)" "$ratio" "$pct" "$(load)"
        else
            echo "torch: skipped (python3 cannot import torch, transformers)"
        fi
    done
done
echo "torch/eng = torch best latency / engine best latency (> 1: the engine is faster)"
echo "%sgemm = achieved GFLOP/s / best sgemm GFLOP/s on the QKV shape at that thread count"
echo "engine op profile, one ViT-B/14 block at 518, x 12 layers:"
for t in 1 2; do
    echo "threads=$t"
    $E OMP_NUM_THREADS=$t "$bench" --ops --threads $t | grep '^op'
done
