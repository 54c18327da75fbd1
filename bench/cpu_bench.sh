#!/bin/sh
# cpu_bench.sh: the CPU engine against PyTorch, side by side in one run (bench/README.md):
# the machine report and GEMM rate (`mama bench`: fp32 and bf16 through the engine's own
# gemm, 1 and 2 threads; square 2048 is oneDNN's best shape), then the image towers
# ViT-B/14-reg and DINOv2-S/14 at 518, batch 1 and 4, 1 and 2 threads, fp32 vs PyTorch fp32
# and bf16 vs PyTorch bf16 autocast (when this CPU has a native bf16 GEMM), then the text
# towers (bench/text_bench.sh) per precision.
# usage: bench/cpu_bench.sh [BUILD_DIR] [ITERS] [MODELS] [THREADS] [BATCHES]
#   defaults: build 2 "base small" "1 2" "1 4"; PYTHON (default python3) needs torch and
#   transformers, else the torch rows are skipped.
# Columns: latency best of ITERS after a warm-up (ms), torch/eng = torch best / engine best
# (> 1: the engine is faster), %gemm = achieved GFLOP/s / the GEMM rate (square 2048) at the
# same thread count and precision, peak RSS of each process (MB), the 1-minute load.
# OpenBLAS's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for these commands only.
set -eu
build=${1:-build}
iters=${2:-2}
models=${3:-base small}
threads=${4:-1 2}
batches=${5:-1 4}
PY=${PYTHON:-python3}
here=$(dirname "$0")
mama="$build/tools/mama"
[ -x "$mama" ] || { echo "build first: ninja -C $build"; exit 1; }
E="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
load() { cut -d' ' -f1 /proc/loadavg; }
field() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
echo "date: $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
have_torch=1
$PY -c "import torch, transformers" 2>/dev/null || have_torch=0
[ $have_torch = 1 ] && echo "torch: $($PY -c 'import torch, transformers; print(torch.__version__, "transformers", transformers.__version__, "capability", torch.backends.cpu.get_cpu_capability())')"

# the machine and its GEMM rate per thread count: rate_<t>_<precision>
for t in $threads; do
    out=$($E OMP_NUM_THREADS=$t "$mama" bench --threads "$t" --no-tower)
    [ "$t" = "$(echo $threads | cut -d' ' -f1)" ] && echo "$out" | grep '^machine'
    echo "$out" | grep '^gemm'
    for p in fp32 bf16; do
        r=$(echo "$out" | awk -v p="precision=$p" '/shape=square2048/ && index($0, p) {for (i = 1; i <= NF; i++) if ($i ~ /^gflops=/) {sub("gflops=", "", $i); print $i}}')
        eval "rate_${t}_$p=\${r:-0}"
    done
done
bf16_ok=$("$mama" bench --no-tower --threads 1 2>/dev/null | grep -q 'precision=bf16 gflops' && echo 1 || echo 0)
[ "$bf16_ok" = 1 ] || echo "bf16: no native bf16 GEMM on this CPU (or capped): bf16 rows skipped"

printf '\n%-6s %-4s %-5s %-5s %-6s %9s %9s %9s %8s %6s %8s %8s %6s\n' model thr batch prec who best_ms mean_ms torch/eng GFLOP/s %gemm rss_MB isa load1
for model in $models; do
    for t in $threads; do
        for b in $batches; do
            for p in fp32 bf16; do
                [ $p = bf16 ] && [ "$bf16_ok" = 0 ] && continue
                eval "rate=\$rate_${t}_$p"
                e=$($E OMP_NUM_THREADS=$t "$mama" bench --config "$model" --threads "$t" --batch "$b" \
                    --precision "$p" --iters "$iters" --no-gemm | grep '^tower')
                eb=$(field "$e" best_ms); eg=$(field "$e" gflops)
                pct=$(awk -v g="$eg" -v r="$rate" 'BEGIN{if (r > 0) printf "%.0f%%", 100*g/r; else print "-"}')
                printf '%-6s %-4s %-5s %-5s %-6s %9s %9s %9s %8s %6s %8s %8s %6s\n' "$model" "$t" "$b" "$p" engine \
                    "$eb" "$(field "$e" mean_ms)" "" "$eg" "$pct" "$(field "$e" peak_rss_mb)" "$(field "$e" isa)" "$(load)"
                if [ $have_torch = 1 ]; then
                    q=$($E OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t $PY "$here/vit_torch.py" --threads "$t" --batch "$b" \
                        --iters "$iters" --config "$model" --precision "$p" 2>/dev/null | grep '^torch')
                    qb=$(field "$q" best_ms); qg=$(field "$q" gflops)
                    ratio=$(awk -v a="$qb" -v b="$eb" 'BEGIN{printf "%.2f", a/b}')
                    pct=$(awk -v g="$qg" -v r="$rate" 'BEGIN{if (r > 0) printf "%.0f%%", 100*g/r; else print "-"}')
                    printf '%-6s %-4s %-5s %-5s %-6s %9s %9s %9s %8s %6s %8s %8s %6s\n' "$model" "$t" "$b" "$p" torch \
                        "$qb" "$(field "$q" mean_ms)" "$ratio" "$qg" "$pct" "$(field "$q" peak_rss_mb)" "$(field "$q" isa)" "$(load)"
                fi
            done
        done
    done
done
echo "every engine row: $(OMP_NUM_THREADS=1 "$mama" bench --config tiny --iters 1 --threads 1 --no-gemm | sed -n 's/.*\(\[gemm=.*\]\).*/\1/p')"

# text towers: tokens/s, engine vs transformers, per precision the text bench supports
if [ -x "$build/bench/text_bench" ] && [ $have_torch = 1 ]; then
    echo
    for t in $threads; do
        for p in fp32 bf16; do
            [ $p = bf16 ] && [ "$bf16_ok" = 0 ] && continue
            echo "text towers: threads=$t precision=$p"
            PYTHON=$PY PRECISION=$p "$here/text_bench.sh" "$build" 8 "$t" "$iters" | grep -v '^$'
        done
    done
fi
echo "done: $(date -u +%FT%TZ)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
