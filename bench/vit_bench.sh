#!/bin/sh
# vit_bench.sh: the image tower (ViT-B/14 with 4 registers at 518, fp32, CPU) in the engine
# and in PyTorch + Hugging Face Dinov2WithRegistersModel, side by side in one run: batch 1
# and 4, 1 and 2 threads; latency (best of ITERS after a warm-up), GFLOP/s (303 GFLOP per
# image), peak RSS; and the machine's sgemm rate on the QKV shape for scale.
# usage: bench/vit_bench.sh [BUILD_DIR] [ITERS] [CONFIG]   (defaults: build 3 base)
# OpenBLAS: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for these commands only, so
# OpenBLAS picks its kernel for this CPU; openblas_get_config() is printed.
set -eu
build=${1:-build}
iters=${2:-3}
config=${3:-base}
here=$(dirname "$0")
bench="$build/bench/vit_bench"
[ -x "$bench" ] || { echo "build first: ninja -C $build bench/vit_bench"; exit 1; }
echo "date: $(date -u +%FT%TZ)  host: $(nproc) cpus  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$bench" --gemm-peak --threads 1 | head -1
have_torch=1
python3 -c "import torch, transformers" 2>/dev/null || have_torch=0
for t in 1 2; do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t "$bench" --gemm-peak --threads $t | tail -1
done
printf '%-7s %-5s %-7s %12s %12s %8s %10s %10s %9s %9s\n' threads batch who best_ms mean_ms GFLOP/s peak_MB ratio_t/e eng_%peak load1
for t in 1 2; do
    peak=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t "$bench" --gemm-peak --threads $t | sed -n 's/.*gflops=\([0-9.]*\).*/\1/p')
    for b in 1 4; do
        e=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t "$bench" --threads $t --batch $b --iters "$iters" --config "$config" | grep '^engine')
        eb=$(echo "$e" | sed -n 's/.*best_ms=\([0-9.]*\).*/\1/p')
        em=$(echo "$e" | sed -n 's/.*mean_ms=\([0-9.]*\).*/\1/p')
        eg=$(echo "$e" | sed -n 's/.*gflops=\([0-9.]*\).*/\1/p')
        er=$(echo "$e" | sed -n 's/.*peak_rss_mb=\([0-9.]*\).*/\1/p')
        pct=$(awk -v g="$eg" -v p="$peak" 'BEGIN{printf "%.0f%%", 100*g/p}')
        printf '%-7s %-5s %-7s %12s %12s %8s %10s %10s %9s %9s\n' $t $b engine "$eb" "$em" "$eg" "$er" "" "$pct" "$(cut -d' ' -f1 /proc/loadavg)"
        if [ $have_torch = 1 ]; then
            p=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t python3 "$here/vit_torch.py" --threads $t --batch $b --iters "$iters" --config "$config" | grep '^torch')
            pb=$(echo "$p" | sed -n 's/.*best_ms=\([0-9.]*\).*/\1/p')
            pm=$(echo "$p" | sed -n 's/.*mean_ms=\([0-9.]*\).*/\1/p')
            pg=$(echo "$p" | sed -n 's/.*gflops=\([0-9.]*\).*/\1/p')
            pr=$(echo "$p" | sed -n 's/.*peak_rss_mb=\([0-9.]*\).*/\1/p')
            ratio=$(awk -v a="$pb" -v b="$eb" 'BEGIN{printf "%.2f", a/b}')
            printf '%-7s %-5s %-7s %12s %12s %8s %10s %10s %9s %9s\n' $t $b torch "$pb" "$pm" "$pg" "$pr" "$ratio" "" "$(cut -d' ' -f1 /proc/loadavg)"
        else
            echo "torch: skipped (python3 cannot import torch, transformers)"
        fi
    done
done
echo "engine op profile, one ViT-B/14 block at 518 x 12 layers, 1 and 2 threads:"
for t in 1 2; do
    echo "threads=$t"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t "$bench" --ops --threads $t | grep '^op'
done
echo "ratio_t/e = torch best latency / engine best latency (> 1: the engine is faster)"
