#!/usr/bin/env bash
# The main job: install, build, and run mamad with its embedded defaults on loopback:
# SQLite index and storage under ./var, the example config (deploy/mamad.conf), REST
# tokens generated once into var/tokens (mode 0600; no default passwords), and the demo
# model (an UNTRAINED tiny DINOv2 made by `mama model-init`, marked so in /health and in
# every result, until you point scoring.model at a trained one).
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
[ -s var/demo-model.safetensors ] ||
  ./build/tools/mama model-init --out var/demo-model.safetensors --config tiny --seed 1
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
