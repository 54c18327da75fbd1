#!/bin/sh
# train_bench.sh: one MaMA training step (ViT-B/14-reg + tiny GPT-2 with LoRA, all four loss
# terms, AdamW) in the engine and in PyTorch on the CPU (bench/train_torch.py), side by side
# in one run: samples/s, peak RSS, ratio engine/torch, with and without recomputation.
# usage: bench/train_bench.sh [BUILD_DIR] [ITERS] [SIZES] [THREADS] [BATCH]
#   defaults: build 2 "224" 2 2   (518: SIZES="224 518"; minutes per step on 2 cores)
# PYTHON: the interpreter with torch, transformers, peft (default python3).
# The machine may be shared: the 1-minute load average is printed beside every row.
set -eu
build=${1:-build}
iters=${2:-2}
sizes=${3:-224}
t=${4:-2}
b=${5:-2}
py=${PYTHON:-python3}
here=$(dirname "$0")
bench="$build/bench/train_bench"
[ -x "$bench" ] || { echo "build first: ninja -C $build"; exit 1; }
E="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t"
load() { cut -d' ' -f1 /proc/loadavg; }
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
echo "date: $(date -u +%FT%TZ)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
isa=avx2; grep -qw avx512f /proc/cpuinfo && isa=avx512f
echo "isa: $isa  blas: OpenBLAS (its own kernel choice)"
have_torch=1
$py -c "import torch, transformers, peft" 2>/dev/null || have_torch=0
printf '%-5s %-5s %-9s %-6s %10s %10s %8s %10s %6s\n' size batch recompute who best_ms samples/s peak_MB eng/torch load1
for s in $sizes; do
    for rc in 0 1; do
        e=$($E "$bench" --threads $t --batch $b --size $s --iters "$iters" --recompute $rc | grep '^engine')
        es=$(field "$e" samples_per_s)
        printf '%-5s %-5s %-9s %-6s %10s %10s %8s %10s %6s\n' $s $b $rc engine "$(field "$e" best_ms)" \
            "$es" "$(field "$e" peak_rss_mb)" "" "$(load)"
        if [ $have_torch = 1 ]; then
            p=$($E $py "$here/train_torch.py" --threads $t --batch $b --size $s --iters "$iters" \
                --recompute $rc 2>/dev/null | grep '^torch')
            ps=$(field "$p" samples_per_s)
            ratio=$(awk -v a="$es" -v b="$ps" 'BEGIN{printf "%.2f", a/b}')
            printf '%-5s %-5s %-9s %-6s %10s %10s %8s %10s %6s\n' $s $b $rc torch "$(field "$p" best_ms)" \
                "$ps" "$(field "$p" peak_rss_mb)" "$ratio" "$(load)"
        else
            echo "torch: skipped ($py cannot import torch, transformers, peft)"
        fi
    done
done
echo "eng/torch = engine samples/s / torch samples/s (> 1: the engine is faster); threads=$t"
