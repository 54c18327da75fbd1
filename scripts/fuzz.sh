#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, coverage on the project's code)
# and runs each for a bounded time from its committed seeds (issue 15):
#   safetensors parser        tests/engine/fuzz_safetensors   seeds tests/engine/fuzz_seeds
#   pixel inputs (DICOM, PNG, PGM)  tests/pixel/fuzz_pixel_inputs  seeds tests/pixel/fuzz_seeds
#   DICOM pre-parse + tag reader  tests/service/fuzz_dcm_preparse seeds tests/service/fuzz_seeds
# Usage: scripts/fuzz.sh [build-dir] [seconds each, default 45]. Ends with meson-style
# "Ok: N" / "Fail: N" lines (.ci/run counts them); a crash leaves its input in the log.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-45}
command -v clang >/dev/null && command -v clang++ >/dev/null ||
  { echo "fuzz: clang not installed (apt install clang)"; echo "Skipped: 3"; exit 0; }
if [ ! -d "$dir" ]; then
  CC=clang CXX=clang++ meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fsanitize=fuzzer-no-link -Dcpp_args=-fsanitize=fuzzer-no-link >/dev/null || exit 1
fi
targets="tests/engine/fuzz_safetensors:tests/engine/fuzz_seeds
tests/pixel/fuzz_pixel_inputs:tests/pixel/fuzz_seeds
tests/service/fuzz_dcm_preparse:tests/service/fuzz_seeds"
ninja -C "$dir" $(echo "$targets" | cut -d: -f1) || { echo "Fail: 3"; exit 1; }
ok=0 fail=0
for t in $targets; do
  exe=${t%%:*} seeds=${t##*:}
  corpus=$(mktemp -d)
  cp "$seeds"/* "$corpus"/
  echo "=== $exe, $secs s from $(ls "$seeds" | wc -l) seed(s)"
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
      "$dir/$exe" -max_total_time="$secs" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus" 2>&1 | tail -15; then
    ok=$((ok + 1))
  else
    fail=$((fail + 1))
    echo "fuzz: $exe FAILED (the crashing input is named above)"
  fi
  rm -rf "$corpus"
done
echo "Ok: $ok"
echo "Fail: $fail"
[ "$fail" -eq 0 ]
