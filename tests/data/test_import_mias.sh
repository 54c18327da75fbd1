#!/bin/sh
# `mama import mias` on six films (three women): one study per woman with L-MLO and R-MLO,
# valid MG DICOM (dcmdump, dciodvfy), the PNG's pixels unchanged, the same bytes again
# on a second import, and UIDs that depend only on the film numbers.
# usage: test_import_mias.sh MAMA DCM_PIXELS
set -eu
MAMA=$1
PIX=$2
MIAS=${MAMA_SHARED_DIR:-}/data/mias
if [ ! -f "$MIAS/Info.txt" ]; then
    echo "SKIP: $MIAS/Info.txt not found (MAMA_SHARED_DIR)"; exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$MAMA" import mias "$MIAS" "$T/a" --films 1-6
"$MAMA" import mias "$MIAS" "$T/b" --films 1-6 --tsyntax jpegls
"$MAMA" import mias "$MIAS" "$T/c" --films 3-4
n=$(ls "$T"/a/*/*.dcm | wc -l)
[ "$n" -eq 6 ] || { echo "FAIL $n files, expected 6"; fail=1; }
for w in 001 002 003; do
    for v in LMLO RMLO; do
        [ -f "$T/a/MIAS$w/$v.dcm" ] || { echo "FAIL MIAS$w/$v.dcm missing"; fail=1; }
    done
done
# film numbers: even = left
"$PIX" --png "$MIAS/images/mdb001.png" "$T/a/MIAS001/RMLO.dcm" || fail=1
"$PIX" --png "$MIAS/images/mdb002.png" "$T/a/MIAS001/LMLO.dcm" || fail=1
"$PIX" --png "$MIAS/images/mdb006.png" "$T/b/MIAS003/LMLO.dcm" || fail=1
"$PIX" "$T/a/MIAS002/LMLO.dcm" "$T/c/MIAS002/LMLO.dcm" || fail=1
cmp -s "$T/a/MIAS002/LMLO.dcm" "$T/c/MIAS002/LMLO.dcm" || { echo "FAIL re-import changed the bytes"; fail=1; }
tag() { dcmdump +P "$2" "$1" | sed -e 's/^[^[]*\[//' -e 's/\].*$//' | head -1; }
if command -v dcmdump >/dev/null 2>&1; then
    f=$T/a/MIAS001/LMLO.dcm
    [ "$(tag "$f" PatientID)" = MIAS001 ] || { echo "FAIL PatientID $(tag "$f" PatientID)"; fail=1; }
    [ "$(tag "$f" ImageLaterality)" = L ] || { echo "FAIL ImageLaterality"; fail=1; }
    [ "$(tag "$f" ViewPosition)" = MLO ] || { echo "FAIL ViewPosition"; fail=1; }
    [ "$(tag "$f" Modality)" = MG ] || { echo "FAIL Modality"; fail=1; }
    dcmdump +P BitsStored "$f" | grep -q "US 8" || { echo "FAIL BitsStored"; fail=1; }
    s1=$(tag "$T/a/MIAS001/LMLO.dcm" StudyInstanceUID)
    s2=$(tag "$T/a/MIAS001/RMLO.dcm" StudyInstanceUID)
    s3=$(tag "$T/a/MIAS002/RMLO.dcm" StudyInstanceUID)
    [ "$s1" = "$s2" ] && [ "$s1" != "$s3" ] || { echo "FAIL study UIDs $s1 $s2 $s3"; fail=1; }
fi
if command -v dciodvfy >/dev/null 2>&1; then
    for f in "$T"/a/*/*.dcm "$T"/b/*/*.dcm; do
        if dciodvfy "$f" 2>&1 | grep -q '^Error'; then
            echo "FAIL dciodvfy $f"; dciodvfy "$f" 2>&1 | grep '^Error'; fail=1
        fi
    done
fi
# bad input: a folder without Info.txt
if "$MAMA" import mias "$T" "$T/x" 2>"$T/err.txt"; then echo "FAIL import of an empty folder succeeded"; fail=1; fi
grep -q "Info.txt" "$T/err.txt" || { echo "FAIL message: $(cat "$T/err.txt")"; fail=1; }
[ $fail -eq 0 ] && echo ok
exit $fail
