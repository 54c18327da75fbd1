#!/bin/sh
# attention_speed.sh: tiled attention vs untiled baselines (bench/README.md). OpenBLAS picks
# its kernel for this CPU: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for this command.
# usage: bench/attention_speed.sh [BUILD_DIR] [T C NH REPS]
build=${1:-build}
[ $# -gt 0 ] && shift
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$build/bench/attention_speed" "$@"
