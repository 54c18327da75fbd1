#!/bin/sh
# Generated MG files in every transfer syntax, with every extra view, MONOCHROME1 and
# 14 bits, read cleanly by DCMTK's dcmdump and pass dicom3tools' dciodvfy (MG IOD) with
# no error. Deflated files are inflated with dcmconv first (dciodvfy cannot inflate).
# usage: test_phantom_iod.sh MAMA
set -eu
MAMA=$1
for tool in dcmdump dciodvfy dcmconv; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "SKIP: $tool not installed (apt-get install dcmtk dicom3tools)"
        exit 77
    fi
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for ts in explicit implicit deflate rle jpegll jpegls j2k; do
    extra=
    case $ts in explicit|j2k) extra="--extra spot,mag,implant,forproc,retake" ;; esac
    # shellcheck disable=SC2086
    "$MAMA" phantom --out "$T/$ts" --size 256x208 --count 1 --seed 21 --tsyntax $ts --quiet --abnormal 1 $extra
done
"$MAMA" phantom --out "$T/mono1" --size 256x208 --count 1 --seed 22 --mono1 --bits 14 --voi sigmoid --quiet
n=0
for f in "$T"/*/*/*.dcm; do
    n=$((n + 1))
    if ! dcmdump -q "$f" >"$T/dump.txt" 2>&1 || grep -q '^E:' "$T/dump.txt"; then
        echo "FAIL dcmdump $f"; cat "$T/dump.txt"; fail=1
    fi
    g=$f
    case $f in */deflate/*) dcmconv -q +te "$f" "$T/inflated.dcm"; g=$T/inflated.dcm ;; esac
    dciodvfy "$g" >"$T/iod.txt" 2>&1 || true
    if grep -q '^Error' "$T/iod.txt"; then
        echo "FAIL dciodvfy $f"; grep '^Error' "$T/iod.txt"; fail=1
    fi
    if ! grep -q '^MammographyImageFor' "$T/iod.txt"; then
        echo "FAIL dciodvfy did not recognise $f as an MG image"; head -3 "$T/iod.txt"; fail=1
    fi
done
echo "checked $n files"
grep -q "SIGMOID" "$T/mono1"/*/LCC.dcm || { echo "FAIL --voi sigmoid not written"; fail=1; }
[ $n -eq 54 ] || { echo "FAIL expected 54 files, found $n"; fail=1; }
exit $fail
