#!/bin/bash
# scaleout_bench.sh: mamad with 1, 2 and 3 nodes on one PostgreSQL index and one node on
# SQLite, side by side in one run: instances/s and studies scored/min while 8 storescu
# senders ingest, and the p50/p99 latency of GET /studies and GET /changes meanwhile
# (the dashboard's view). --before BIN adds an older mamad (one REST connection beside
# one writer behind a mutex) on SQLite: the before/after of per-thread connections.
#
#   bench/scaleout_bench.sh [--build DIR] [--studies N] [--before OLD_MAMAD]
#
# A real PostgreSQL server (Debian's postgresql; tests/service/pgserver.py) is started in
# a temporary folder. On this 2-core machine the figures show overhead, not scaling.
# Not a test: nothing here asserts a time.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in -h|--help) sed -n 2,12p "$0"; exit 0 ;; esac
for t in storescu initdb; do
    command -v "$t" >/dev/null || [ -x /usr/lib/postgresql/15/bin/$t ] ||
        { echo "missing $t (apt install dcmtk postgresql)"; exit 1; }
done
exec python3 "$HERE/scaleout_bench.py" "$@"
