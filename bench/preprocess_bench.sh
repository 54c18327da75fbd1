#!/bin/sh
# preprocess_bench.sh: decode + preprocess images/s on full-size 16-bit mammograms
# (3328 x 2560, 12 bits stored, from `mama phantom`), explicit VR little endian and JPEG
# 2000 lossless, the C pipeline beside pydicom + numpy doing the same steps
# (bench/preprocess_pydicom.py), one thread each, in one run; prints the ratios of the
# best-of-REPS per image (the machine may be shared; the mean is printed too).
# Needs: a build (BUILD, default ./build), python3 with pydicom numpy scipy pylibjpeg
# pylibjpeg-openjpeg (PyPI). Usage: bench/preprocess_bench.sh [BUILD] [REPS]
set -eu
BUILD=${1:-build}
REPS=${2:-3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/mama_prepbench_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Benchmarks use OpenBLAS's own kernel choice (BUILD_NOTES.md); one thread for both sides.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$BUILD/tools/mama" phantom --out "$WORK/raw" --count 1 --seed 21 --tsyntax explicit --quiet
"$BUILD/tools/mama" phantom --out "$WORK/j2k" --count 1 --seed 21 --tsyntax j2k --quiet
echo "# files: $(ls "$WORK"/raw/*/*.dcm | wc -l) per syntax, $(du -sh "$WORK/raw" | cut -f1) explicit, $(du -sh "$WORK/j2k" | cut -f1) j2k"
echo "# $(python3 -c 'import numpy, pydicom, scipy, pylibjpeg; print("numpy", numpy.__version__, "pydicom", pydicom.__version__, "scipy", scipy.__version__)')"
for ts in raw j2k; do
    C=$("$BUILD/bench/preprocess_bench" --reps "$REPS" --label "C $ts" "$WORK/$ts"/*/*.dcm | tee /dev/stderr | tail -1)
    P=$(python3 "$SRC/bench/preprocess_pydicom.py" --reps "$REPS" --label "pydicom $ts" "$WORK/$ts"/*/*.dcm | tee /dev/stderr | tail -1)
    c=$(echo "$C" | sed -n 's/.* total \([0-9.]*\) images.*/\1/p')
    p=$(echo "$P" | sed -n 's/.* total \([0-9.]*\) images.*/\1/p')
    echo "$ts: C $c images/s, pydicom+numpy $p images/s, ratio C/pydicom $(echo "$c $p" | awk '{printf "%.2f", $1 / $2}')"
done
# Beside the one-thread comparison: JPEG 2000 decoded at reduced resolution (shorter side
# >= 1036, dcm_image_load_scaled), and with OpenJPEG's own threads (all cores).
"$BUILD/bench/preprocess_bench" --reps "$REPS" --j2k-min-side 1036 --label "C j2k, reduced to >= 1036" "$WORK/j2k"/*/*.dcm | tail -1
"$BUILD/bench/preprocess_bench" --reps "$REPS" --j2k-threads "$(nproc --all)" --label "C j2k, $(nproc --all) OpenJPEG threads" "$WORK/j2k"/*/*.dcm | tail -1
