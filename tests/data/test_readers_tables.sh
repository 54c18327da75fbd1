#!/bin/sh
# Generates a small phantom folder in the RSNA layout and runs the table reader checks.
# usage: test_readers_tables.sh MAMA TEST_READERS
set -eu
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$1" phantom --out "$T/ph" --size 128x104 --count 16 --seed 5 --abnormal 0.7 --layout rsna \
    --extra forproc,spot,mag --quiet
"$2" tables "$T/ph"
