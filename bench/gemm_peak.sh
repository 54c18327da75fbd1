#!/bin/sh
# gemm_peak.sh: measured sgemm peak (bench/README.md). OpenBLAS picks its kernel for this
# CPU: the environment's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for this command only.
# usage: bench/gemm_peak.sh [BUILD_DIR] [MAX_THREADS]
build=${1:-build}
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$build/bench/gemm_peak" "${2:-2}"
