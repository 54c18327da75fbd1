#!/bin/bash
# ingest_bench.sh: DICOM ingest of full-size 16-bit mammograms (mama phantom, 3328 x 2560,
# 12 bits stored, about 17 MB each) by mamad, side by side in one run with DCMTK's storescp
# (--bit-preserving: it only writes files, the upper bound) and Orthanc (Debian package,
# its default SQLite index), all on the same loopback and the same disk, from 1, 4 and 8
# parallel storescu senders. Prints instances/s, MB/s and the server's peak RSS, then the
# ratios mamad/storescp (target >= 0.8) and mamad/orthanc (target >= 2).
#
#   bench/ingest_bench.sh [--build DIR] [--studies N] [--work DIR] [--senders "1 4 8"]
#
# Each run starts the server on an empty storage directory and stops it afterwards. The
# machine's load average is printed before and after: on a shared machine say how loaded
# it was beside the figures. Not a test: nothing here asserts a time.
set -u
BUILD=build STUDIES=4 WORK= SENDERS="1 4 8"
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=$2; shift 2 ;;
    --studies) STUDIES=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --senders) SENDERS=$2; shift 2 ;;
    -h|--help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
# Benchmarks leave BLAS tuning to the machine (no BLAS runs here; kept for uniformity).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
MAMAD=$BUILD/daemon/mamad MAMA=$BUILD/tools/mama
# mamad refuses root without --user or --allow-root
ROOT_OPT=(); [ "$(id -u)" = 0 ] && ROOT_OPT=(--allow-root)
for t in storescu storescp "$MAMAD" "$MAMA"; do
    command -v "$t" >/dev/null || { echo "missing $t (build the project; apt install dcmtk)"; exit 1; }
done
HAVE_ORTHANC=1
command -v Orthanc >/dev/null || { HAVE_ORTHANC=0; echo "note: Orthanc not installed (apt install orthanc): skipped"; }
OWN_WORK=0
[ -n "$WORK" ] || { WORK=$(mktemp -d "${TMPDIR:-/tmp}/ingest_bench.XXXXXX"); OWN_WORK=1; }
mkdir -p "$WORK"
SRV_PID=
cleanup() {
    [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK/srv"
    [ $OWN_WORK = 1 ] && rm -rf "$WORK"   # a --work DIR keeps its studies for the next run
}
trap cleanup EXIT

echo "== ingest benchmark $(date -u +%FT%TZ) on $(hostname), $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "disk: $(df -hT "$WORK" | tail -1 | awk '{print $1, $2, $5 " free"}')"
if [ ! -d "$WORK/studies" ]; then
    "$MAMA" phantom --out "$WORK/studies" --count "$STUDIES" --quiet --seed 7 >/dev/null || exit 1
fi
mapfile -t FILES < <(find "$WORK/studies" -name '*.dcm' | sort)
N=${#FILES[@]}
BYTES=$(cat "${FILES[@]}" | wc -c)
echo "input: $N instances, $((BYTES / 1048576)) MB ($(dcmdump -q +P 0028,0010 +P 0028,0011 +P 0028,0101 "${FILES[0]}" | tr -s ' ' | cut -d' ' -f3 | tr '\n' ' '))"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT: until something listens
    for _ in $(seq 400); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "server did not listen on $1" >&2
    return 1
}
peak_rss_mb() { awk '/VmHWM/{printf "%.0f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }

start_server() {  # start_server NAME PORT: sets SRV_PID, AE
    local name=$1 port=$2 dir=$WORK/srv
    rm -rf "$dir"; mkdir -p "$dir/store"
    case $name in
    storescp)
        AE=STORESCP
        storescp --fork --bit-preserving -aet $AE -od "$dir/store" "$port" >"$dir/log" 2>&1 &
        ;;
    mamad)
        AE=MAMAD
        "$MAMAD" "${ROOT_OPT[@]}" --set dicom.port="$port" --set dicom.allow="DEMO@127.0.0.1 DEMO@localhost" \
            --set dicom.max_associations=16 --set storage.dir="$dir/store" \
            --set storage.index="$dir/index.sqlite" --set rest.enabled=false \
            --set grouper.stable_age=1h --set log.level=warn >"$dir/log" 2>&1 &
        ;;
    orthanc)
        AE=ORTHANC
        cat >"$dir/orthanc.json" <<EOF
{ "Name": "bench", "StorageDirectory": "$dir/store", "IndexDirectory": "$dir/store",
  "DicomAet": "$AE", "DicomPort": $port, "HttpPort": $(free_port), "HttpServerEnabled": true,
  "RemoteAccessAllowed": false, "DicomCheckCalledAet": false, "DicomAlwaysAllowStore": true,
  "DicomThreadsCount": 8, "StorageCompression": false, "Plugins": [], "LogLevel": "default" }
EOF
        Orthanc "$dir/orthanc.json" >"$dir/log" 2>&1 &
        ;;
    esac
    SRV_PID=$!
    wait_port "$port"
}

stop_server() {
    RSS=$(peak_rss_mb "$SRV_PID")
    kill -TERM "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

declare -A RATE MBS MEM
run() {  # run NAME P
    local name=$1 p=$2 port
    port=$(free_port)
    start_server "$name" "$port" || return 1
    local t0 t1 i pids=()
    t0=$(date +%s.%N)
    for ((i = 0; i < p; i++)); do
        local part=()
        for ((k = i; k < N; k += p)); do part+=("${FILES[k]}"); done
        storescu -aet DEMO -aec "$AE" 127.0.0.1 "$port" "${part[@]}" >"$WORK/srv/scu$i.log" 2>&1 &
        pids+=($!)
    done
    local failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    t1=$(date +%s.%N)
    stop_server
    local stored
    stored=$(find "$WORK/srv/store" -type f \( -name '*.dcm' -o -name 'MG*' -o -size +1M \) | wc -l)
    [ $failed = 0 ] && [ "$stored" -ge "$N" ] || echo "warning: $name P=$p: storescu failed=$failed, $stored of $N files stored"
    RATE[$name,$p]=$(echo "$N / ($t1 - $t0)" | bc -l)
    MBS[$name,$p]=$(echo "$BYTES / 1048576 / ($t1 - $t0)" | bc -l)
    MEM[$name,$p]=$RSS
    printf "%-9s P=%d  %8.2f inst/s  %8.1f MB/s  peak RSS %s MB\n" "$name" "$p" "${RATE[$name,$p]}" \
        "${MBS[$name,$p]}" "$RSS"
}

SERVERS="storescp mamad"
[ $HAVE_ORTHANC = 1 ] && SERVERS="$SERVERS orthanc"
for p in $SENDERS; do
    for s in $SERVERS; do run "$s" "$p"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "ratios (instances/s; storescp peak RSS is its parent process, children fork per association)"
for p in $SENDERS; do
    r1=$(echo "${RATE[mamad,$p]} / ${RATE[storescp,$p]}" | bc -l)
    line=$(printf "P=%d  mamad/storescp %.2f (target >= 0.8)" "$p" "$r1")
    if [ $HAVE_ORTHANC = 1 ]; then
        r2=$(echo "${RATE[mamad,$p]} / ${RATE[orthanc,$p]}" | bc -l)
        line="$line$(printf "  mamad/orthanc %.2f (target >= 2)" "$r2")"
    fi
    echo "$line"
done
