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
# Columns: latency best of ITERS after a warm-up (wall ms), the best iteration's process CPU
# time (ms), torch/eng = torch / engine (> 1: the engine is faster), GFLOP/s, %gemm =
# achieved GFLOP/s / the GEMM rate (square 2048) at the same thread count and precision,
# peak RSS of each process (MB), the 1-minute load. basis: at 1 thread the ratio, GFLOP/s
# and %gemm come from CPU time (the core's own speed, comparable on a shared machine); at 2
# threads from wall-clock time (CPU time would hide poor scaling): rerun those on a quiet
# machine before quoting them.
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
bf16_ok=0
for t in $threads; do
    out=$($E OMP_NUM_THREADS=$t "$mama" bench --threads "$t" --no-tower)
    [ "$t" = "$(echo $threads | cut -d' ' -f1)" ] && echo "$out" | grep '^machine'
    echo "$out" | grep '^gemm'
    echo "$out" | grep -q 'precision=bf16 gflops' && bf16_ok=1
    key=gflops
    [ "$t" = 1 ] && key=cpu_gflops
    for p in fp32 bf16; do
        r=$(echo "$out" | awk -v p="precision=$p" -v k="$key=" '/shape=square2048/ && index($0, p) {for (i = 1; i <= NF; i++) if (index($i, k) == 1) {sub(k, "", $i); print $i}}')
        eval "rate_${t}_$p=\${r:-0}"
    done
done
[ "$bf16_ok" = 1 ] || echo "bf16: no native bf16 GEMM on this CPU (or capped): bf16 rows skipped"

row() {  # model t b p who best cpu ratio gflops pct rss isa
    printf '%-6s %-4s %-5s %-5s %-6s %9s %9s %9s %8s %6s %7s %-5s %12s %6s\n' "$@" "$(load)"
}
# the figure of a result line on this row's basis: GFLOP from gflop= over wall or CPU time
basis_ms() { [ "$2" = 1 ] && field "$1" cpu_ms || field "$1" best_ms; }
printf '\n'
row model thr batch prec who best_ms cpu_ms torch/eng GFLOP/s %gemm rss_MB basis isa | sed 's/ [0-9.]*$/ load1/'
for model in $models; do
    for t in $threads; do
        for b in $batches; do
            for p in fp32 bf16; do
                [ $p = bf16 ] && [ "$bf16_ok" = 0 ] && continue
                eval "rate=\$rate_${t}_$p"
                e=$($E OMP_NUM_THREADS=$t "$mama" bench --config "$model" --threads "$t" --batch "$b" \
                    --precision "$p" --iters "$iters" --no-gemm | grep '^tower')
                basis=wall; [ "$t" = 1 ] && basis=cpu
                ems=$(basis_ms "$e" "$t"); gf=$(field "$e" gflop)
                eg=$(awk -v g="$gf" -v m="$ems" 'BEGIN{printf "%.1f", g/(m/1e3)}')
                pct=$(awk -v g="$eg" -v r="$rate" 'BEGIN{if (r > 0) printf "%.0f%%", 100*g/r; else print "-"}')
                row "$model" "$t" "$b" "$p" engine "$(field "$e" best_ms)" "$(field "$e" cpu_ms)" "" "$eg" "$pct" \
                    "$(field "$e" peak_rss_mb)" "$basis" "$(field "$e" isa)"
                if [ $have_torch = 1 ]; then
                    q=$($E OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t $PY "$here/vit_torch.py" --threads "$t" --batch "$b" \
                        --iters "$iters" --config "$model" --precision "$p" 2>/dev/null | grep '^torch')
                    qms=$(basis_ms "$q" "$t")
                    qg=$(awk -v g="$gf" -v m="$qms" 'BEGIN{printf "%.1f", g/(m/1e3)}')
                    ratio=$(awk -v a="$qms" -v b="$ems" 'BEGIN{printf "%.2f", a/b}')
                    pct=$(awk -v g="$qg" -v r="$rate" 'BEGIN{if (r > 0) printf "%.0f%%", 100*g/r; else print "-"}')
                    row "$model" "$t" "$b" "$p" torch "$(field "$q" best_ms)" "$(field "$q" cpu_ms)" "$ratio" "$qg" "$pct" \
                        "$(field "$q" peak_rss_mb)" "$basis" "$(field "$q" isa)"
                fi
            done
        done
    done
done
echo "kernel tag of a tiny fp32 tower run (every mama bench line carries its own): $(OMP_NUM_THREADS=1 "$mama" bench --config tiny --iters 1 --threads 1 --no-gemm | sed -n 's/.*\(\[gemm=.*\]\).*/\1/p')"

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
