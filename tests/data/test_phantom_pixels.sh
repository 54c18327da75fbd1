#!/bin/sh
# Every transfer syntax stores the same pixels as explicit VR little endian (decoded with
# DCMTK, JPEG 2000 with OpenJPEG); MONOCHROME1 stores the inverted values; the same seed
# gives the same bytes, another seed other pixels; bad options are refused with a message.
# usage: test_phantom_pixels.sh MAMA DCM_PIXELS
set -eu
MAMA=$1
PIX=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
for ts in explicit implicit deflate rle jpegll jpegls j2k; do
    "$MAMA" phantom --out "$T/$ts" --size 256x208 --count 1 --seed 11 --tsyntax $ts --quiet --abnormal 1
done
for f in "$T"/explicit/*/*.dcm; do
    rel=${f#"$T"/explicit/}
    for ts in implicit deflate rle jpegll jpegls j2k; do
        "$PIX" "$f" "$T/$ts/$rel" >/dev/null || fail=1
    done
done
# MONOCHROME1: the same study, inverted
"$MAMA" phantom --out "$T/mono1" --size 256x208 --count 1 --seed 11 --mono1 --quiet --abnormal 1
for f in "$T"/explicit/*/*.dcm; do
    "$PIX" "$f" "$T/mono1/${f#"$T"/explicit/}" --inverted >/dev/null || fail=1
done
# determinism: same seed, same bytes (DICOM files and tables)
"$MAMA" phantom --out "$T/again" --size 256x208 --count 1 --seed 11 --quiet --abnormal 1
if ! diff -r "$T/explicit" "$T/again" >/dev/null; then
    echo "FAIL the same seed gave different files"; diff -rq "$T/explicit" "$T/again" | head; fail=1
fi
# another seed: other pixels
"$MAMA" phantom --out "$T/other" --size 256x208 --count 1 --seed 12 --quiet
if "$PIX" "$T/explicit/A011000001/LCC.dcm" "$T/other/A012000001/LCC.dcm" >/dev/null 2>&1; then
    echo "FAIL seeds 11 and 12 gave the same pixels"; fail=1
fi
# incomplete studies
"$MAMA" phantom --out "$T/views" --size 256x208 --count 1 --seed 3 --views LCC,RMLO --quiet
n=$(ls "$T"/views/*/*.dcm | wc -l)
[ "$n" -eq 2 ] || { echo "FAIL --views LCC,RMLO wrote $n files"; fail=1; }
[ -f "$T"/views/A003000001/RMLO.dcm ] || { echo "FAIL RMLO.dcm missing"; fail=1; }
# bad options: usage error (2) and a message naming the option
for bad in "--voi gamma" "--layout flat" "--size 12x12" "--tsyntax jpeg2001" "--extra spots" "--views LCC,XCC" "--bits 20" "--count 0"; do
    set +e
    # shellcheck disable=SC2086
    "$MAMA" phantom --out "$T/bad" $bad 2>"$T/err.txt"
    rc=$?
    set -e
    opt=${bad%% *}
    if [ $rc -ne 2 ] || ! grep -q -- "${opt#--}" "$T/err.txt"; then
        echo "FAIL '$bad' gave rc $rc: $(cat "$T/err.txt")"; fail=1
    fi
done
[ $fail -eq 0 ] && echo "ok"
exit $fail
