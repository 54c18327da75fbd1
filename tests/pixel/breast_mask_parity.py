#!/usr/bin/env python3
"""breast_mask_parity.py: the C breast mask (engine/vision/breast_mask.c, through
`mama preprocess`) against its numpy/scipy twin (bench/preprocess_pydicom.py, written
from docs/preprocessing.md with scipy.ndimage's labels and morphology): the crop box of
every file must be identical. Files: phantom hard cases (fatty, film, labels, markers) at
832 x 640 and 1664 x 1280 (working factors 2 and 4), plain phantoms, and the first 40
mini-MIAS films as DICOM (`mama import mias`, when the data set is there). Needs numpy,
scipy and pydicom in the Python named by MAMA_PARITY_PYTHON (else python3); skipped (77)
without them."""
import glob
import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy  # noqa: F401
    import pydicom
    import scipy  # noqa: F401
except ImportError as e:
    other = os.environ.get("MAMA_PARITY_PYTHON")
    if other and not os.environ.get("MAMA_PARITY_EXEC"):
        os.environ["MAMA_PARITY_EXEC"] = "1"  # once: a venv with them (e.g. for a local run)
        os.execv(other, [other] + sys.argv)
    print("SKIP: %s (apt install python3-numpy python3-scipy python3-pydicom, or set MAMA_PARITY_PYTHON)" % e)
    sys.exit(77)

SRC = os.environ.get("MAMA_SOURCE_ROOT", ".")
MAMA = os.path.join(os.environ.get("MAMA_BUILD_ROOT", "build"), "tools", "mama")
sys.path.insert(0, os.path.join(SRC, "bench"))
import preprocess_pydicom as twin  # noqa: E402


def run(*args):
    r = subprocess.run([MAMA] + list(args), capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("FAIL: mama %s: %s" % (" ".join(args), r.stderr.strip()))
        sys.exit(1)
    return r.stdout


def main():
    work = tempfile.mkdtemp(prefix="mama_mask_parity_")
    run("phantom", "--out", work + "/h2", "--count", "2", "--seed", "8", "--size", "832x640", "--quiet",
        "--hard", "fatty,film,labels,markers")
    run("phantom", "--out", work + "/h4", "--count", "1", "--seed", "9", "--size", "1664x1280", "--quiet",
        "--hard", "film,labels,markers", "--density", "D")
    run("phantom", "--out", work + "/p", "--count", "2", "--seed", "10", "--size", "416x320", "--quiet")
    files = sorted(glob.glob(work + "/*/*/*.dcm"))
    mias = os.path.join(os.environ.get("MAMA_SHARED_DIR", "../shared"), "data", "mias")
    if os.path.exists(os.path.join(mias, "Info.txt")):
        run("import", "mias", mias, work + "/mias", "--films", "1-40")
        files += sorted(glob.glob(work + "/mias/*/*.dcm"))
    else:
        print("mini-MIAS not found at %s: phantoms only" % mias)
    out = run("preprocess", *files, "--out-png", work + "/png", "--size", "16")
    boxes = {}
    for line in out.splitlines():
        m = re.match(r"(\S+): \d+x\d+ -> crop y=(\d+) x=(\d+) h=(\d+) w=(\d+)", line)
        if m:
            boxes[m.group(1)] = tuple(int(v) for v in m.groups()[1:])
    bad = 0
    for f in files:
        want = tuple(int(v) for v in twin.breast_mask_box(twin.to_unit(pydicom.dcmread(f))))
        got = boxes.get(f)
        if got != want:
            bad += 1
            print("DIFF %s: C %s, numpy %s" % (os.path.relpath(f, work), got, want))
    print("%d files: %d crop boxes differ between C and numpy/scipy" % (len(files), bad))
    subprocess.run(["rm", "-rf", work])
    sys.exit(1 if bad or len(boxes) != len(files) else 0)


if __name__ == "__main__":
    main()
