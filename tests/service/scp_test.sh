#!/bin/bash
# scp_test.sh CASE HARNESS RAWSCU: integration tests of the DICOM SCP alone (dcm_scp.h),
# run through scp_harness on a loopback ephemeral port with DCMTK's own clients
# (echoscu, storescu) and scp_rawscu for the datasets storescu cannot send.
# Cases: echo store_syntaxes access bad_input pool_full disk_full stop phantom listener flood tls.
# MAMA_TOOL: the `mama` binary (for `mama phantom`), needed by the phantom case only.
set -u
CASE=$1 H=$2 RAW=$3
for t in echoscu storescu dcmconv dcmcjpeg dcmcjpls dcmcrle od; do
    command -v $t >/dev/null || { echo "SKIP: $t not installed (apt install dcmtk)"; exit 77; }
done
W=$(mktemp -d /tmp/scp_test.XXXXXX)
PID=
MNT=
cleanup() {
    [ -n "$PID" ] && kill -TERM $PID 2>/dev/null && wait $PID 2>/dev/null
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/tmp" "$W/store" "$W/src"
STUDY=1.2.826.0.1.3680043.9.7433.2.1
SERIES=$STUDY.1
UIDR=1.2.826.0.1.3680043.9.7433.3

fail() {
    echo "FAIL: $*"
    echo "--- harness stdout"; cat "$W/scp.log" 2>/dev/null
    echo "--- harness stderr (tail)"; grep -v "^I: " "$W/scp.err" | tail -40
    exit 1
}
# start_scp TMPDIR STOREDIR [harness options...]: sets PID and PORT
start_scp() {
    local tmp=$1 store=$2; shift 2
    rm -f "$W/scp.log" "$W/scp.err"   # the child truncates them only once it runs
    "$H" serve --ae MAMAD --tmp "$tmp" --store "$store" "$@" >"$W/scp.log" 2>"$W/scp.err" &
    PID=$!
    for _ in $(seq 100); do
        PORT=$(awk '/^PORT /{print $2}' "$W/scp.log" 2>/dev/null)
        [ -n "$PORT" ] && return 0
        kill -0 $PID 2>/dev/null || fail "harness did not start"
        sleep 0.05
    done
    fail "harness printed no port"
}
stop_scp() {
    kill -TERM $PID
    wait $PID || fail "harness exited with an error"
    PID=
    grep -q '^STOPPED' "$W/scp.log" || fail "harness did not stop cleanly"
}
mk() { "$H" mkdcm "$1" --sop "$2" --study $STUDY --series $SERIES "${@:3}" || fail "mkdcm $1"; }
# the dataset after the file meta information (offset 144 + group length)
dataset() { local gl; gl=$(od -An -tu4 -j140 -N4 "$1" | tr -d ' '); tail -c +$((144 + gl + 1)) "$1"; }
meta_ts() { dcmdump -q -s -Un +P 0002,0010 "$1" | sed "s/.*\[\(.*\)\].*/\1/"; }
count_files() { find "$1" -type f | wc -l; }
send() { storescu -aet SENDER -aec MAMAD 127.0.0.1 $PORT "$@" >>"$W/storescu.log" 2>&1; }

case $CASE in
echo)
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT || fail "echoscu failed"
    grep -q '^EVENT accepted SENDER 127.0.0.1' "$W/scp.log" || fail "no accepted event"
    grep -q '^EVENT released SENDER 127.0.0.1' "$W/scp.log" || fail "no released event"
    stop_scp
    ;;
store_syntaxes)
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    # one base file per transfer syntax (distinct SOP Instance UIDs), then converted
    # name|converter|transfer syntax|storescu option ("raw": scp_rawscu sends the file as is,
    # for the syntax storescu has no option for)
    conv=(
        "explicit|cp|1.2.840.10008.1.2.1|-xe"
        "implicit|dcmconv +ti|1.2.840.10008.1.2|-xi"
        "deflate|dcmconv +td|1.2.840.10008.1.2.1.99|-xd"
        "jpeg14sv1|dcmcjpeg +e1|1.2.840.10008.1.2.4.70|-xs"
        "jpeg14|dcmcjpeg +el|1.2.840.10008.1.2.4.57|raw"
        "jpegls|dcmcjpls +el|1.2.840.10008.1.2.4.80|-xt"
        "jpegls_near|dcmcjpls +en|1.2.840.10008.1.2.4.81|-xu"
        "rle|dcmcrle|1.2.840.10008.1.2.5|-xr"
    )
    if command -v gdcmconv >/dev/null; then
        # gdcmconv writes undefined-length sequences, which storescu sends with explicit
        # lengths; dcmconv gives the file the encoding that goes over the wire
        j2k() { gdcmconv --j2k "${@:1:$#-2}" "${@: -2:1}" "$W/j.dcm" && dcmconv "$W/j.dcm" "${@: -1}"; }
        conv+=("j2k_lossless|j2k|1.2.840.10008.1.2.4.90|-xv"
               "j2k_lossy|j2k --lossy -q 30|1.2.840.10008.1.2.4.91|-xw")
    else
        echo "note: gdcmconv missing, JPEG 2000 not covered"
    fi
    i=0
    for c in "${conv[@]}"; do
        IFS='|' read -r name tool ts opt <<<"$c"
        i=$((i + 1))
        mk "$W/src/base_$name.dcm" $UIDR.$i --seed $i --rows 40 --cols 32
        $tool "$W/src/base_$name.dcm" "$W/src/$name.dcm" >/dev/null 2>&1 || fail "$tool failed"
        rm "$W/src/base_$name.dcm"
        [ "$(meta_ts "$W/src/$name.dcm")" = "$ts" ] || fail "$name: converter wrote $(meta_ts "$W/src/$name.dcm")"
        if [ $opt = raw ]; then
            "$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/$name.dcm" | grep -q '^STATUS 0x0000$' || fail "rawscu $name failed"
        else
            send $opt "$W/src/$name.dcm" || fail "storescu $name failed: $(tail -5 "$W/storescu.log")"
        fi
        uid=$(dcmdump -q -s +P 0008,0018 "$W/src/$name.dcm" | sed 's/.*\[\(.*\)\].*/\1/')
        out="$W/store/$uid.dcm"
        [ -f "$out" ] || fail "$name: not stored"
        [ "$(meta_ts "$out")" = "$ts" ] || fail "$name: stored as $(meta_ts "$out"), sent as $ts"
        if [ $name = deflate ]; then
            # storescu deflates afresh (other zlib settings): compare the inflated datasets
            dcmconv +te "$W/src/$name.dcm" "$W/a.dcm" && dcmconv +te "$out" "$W/b.dcm" || fail "inflate"
            cmp <(dataset "$W/a.dcm") <(dataset "$W/b.dcm") || fail "$name: inflated datasets differ"
            echo "ok: $name ($ts) stored deflated, identical after inflating"
        else
            cmp <(dataset "$W/src/$name.dcm") <(dataset "$out") || fail "$name: stored dataset differs from the sent one"
            echo "ok: $name ($ts) byte-identical dataset"
        fi
    done
    [ "$(count_files "$W/tmp")" = 0 ] || fail "temporary files left behind"
    grep -q '^STORED .* L/CC/R-10242/FOR PRESENTATION' "$W/scp.log" || fail "tags not parsed (laterality/view/view code/intent)"
    stop_scp
    ;;
access)
    mk "$W/src/a.dcm" $UIDR.1
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    echoscu -aet STRANGER -aec MAMAD 127.0.0.1 $PORT 2>/dev/null && fail "unknown calling AE accepted"
    grep -q "^EVENT rejected STRANGER 127.0.0.1 calling AE 'STRANGER' from 127.0.0.1 is not in the allow-list" "$W/scp.log" || fail "no rejection event for STRANGER"
    out=$("$RAW" --port $PORT --called MAMAD --calling STRANGER)
    [ "$out" = "ASSOC rejected result=1 source=1 reason=3" ] || fail "unknown calling AE: got '$out'"
    echoscu -aet SENDER -aec WRONG 127.0.0.1 $PORT 2>/dev/null && fail "wrong called AE accepted"
    out=$("$RAW" --port $PORT --called WRONG --calling SENDER)
    [ "$out" = "ASSOC rejected result=1 source=1 reason=7" ] || fail "wrong called AE: got '$out'"
    grep -q "^EVENT rejected SENDER 127.0.0.1 called AE title 'WRONG' is not 'MAMAD'" "$W/scp.log" || fail "no rejection event for the called AE"
    send "$W/src/a.dcm" || fail "allowed sender refused"
    [ -f "$W/store/$UIDR.1.dcm" ] || fail "allowed sender's file not stored"
    stop_scp
    # the right AE from the wrong host, and an empty list (deny by default)
    start_scp "$W/tmp" "$W/store" --allow SENDER@10.9.8.7
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT 2>/dev/null && fail "sender from a host not listed accepted"
    stop_scp
    start_scp "$W/tmp" "$W/store"
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT 2>/dev/null && fail "empty allow-list admitted a sender"
    # a host on no allow-list entry (here: none at all) is closed at accept (issue 15)
    grep -q "^EVENT rejected .*127.0.0.1 the host is not in the allow-list (closed at accept)" "$W/scp.log" ||
        fail "no deny-by-default reason"
    stop_scp
    ;;
bad_input)
    mk "$W/src/good.dcm" $UIDR.1 --seed 1
    mk "$W/src/good2.dcm" $UIDR.2 --seed 2
    mk "$W/src/evil.dcm" "1.2.3/../../evil" --seed 3
    mk "$W/src/evil2.dcm" "1.2.3..4" --seed 4
    mk "$W/src/evil3.dcm" $'1.2.3\nFORGED log line' --seed 5
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    expect_status() {   # expect_status WANT DESCRIPTION rawscu-args...
        local want=$1 what=$2; shift 2
        local out
        out=$("$RAW" --port $PORT --called MAMAD --calling SENDER "$@")
        echo "$out" | grep -q "^STATUS $want$" || fail "$what: wanted $want, got: $out"
        echo "$out" | grep -q "^RELEASED$" || fail "$what: association did not end in a release: $out"
        [ "$(count_files "$W/store")" = 0 ] || fail "$what: a file was stored"
        [ "$(count_files "$W/tmp")" = 0 ] || fail "$what: a temporary file was left"
        echo "ok: $what -> $want"
    }
    expect_status 0xC000 "non-DICOM bytes" --file "$W/src/good.dcm" --mode garbage
    expect_status 0xC000 "truncated dataset" --file "$W/src/good.dcm" --mode truncate
    expect_status 0xA900 "SOP Instance UID differs from the request" --file "$W/src/good.dcm" --cmd-sop $UIDR.99
    expect_status 0xA900 "SOP Class UID differs from the request" --file "$W/src/good.dcm" --cmd-class 1.2.840.10008.5.1.4.1.1.1.2.1
    out=$("$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/good.dcm" --cmd-class 1.2.840.10008.5.1.4.1.1.2)
    [ "$out" = "ASSOC rejected result=1 source=1 reason=1" ] || fail "CT Image Storage not refused: $out"
    grep -q "^EVENT rejected SENDER 127.0.0.1 no acceptable presentation context" "$W/scp.log" || fail "no reason for the CT refusal"
    echo "ok: an association offering only CT Image Storage is rejected (no acceptable context)"
    expect_status 0xC000 "UID with path characters" --file "$W/src/evil.dcm"
    expect_status 0xC000 "UID with an empty component" --file "$W/src/evil2.dcm"
    expect_status 0xC000 "UID with a newline" --file "$W/src/evil3.dcm"
    # ~7,000 nested sequences (258 KB) overflowed the association thread's stack inside
    # DCMTK's recursive parser and took the whole process down (issue 15): refused now
    mk "$W/src/deep.dcm" $UIDR.7 --seed 7 --nest 7000
    expect_status 0xC000 "7,000 nested sequence levels" --file "$W/src/deep.dcm"
    grep -q 'failure: refused before parsing: sequences nested deeper than 64 levels' "$W/scp.err" ||
        fail "no log line saying why the deep dataset was refused"
    kill -0 $PID 2>/dev/null || fail "the SCP died on the deep dataset"
    mk "$W/src/nest60.dcm" $UIDR.8 --seed 8 --nest 60
    out=$("$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/nest60.dcm")
    echo "$out" | grep -q '^STATUS 0x0000$' || fail "60 nested levels (within the bound) refused: $out"
    rm -f "$W/store/$UIDR.8.dcm"
    echo "ok: 60 nested levels stored"
    grep -q "^FORGED" "$W/scp.err" && fail "a UID forged a log line"   # (DCMTK drops the newline)
    [ -e "$W/evil" ] || [ -e "$W/store/evil" ] || [ -e /tmp/evil ] && fail "a path built from a UID exists"
    grep -q 'failure: .*not a valid UID' "$W/scp.err" || fail "no log line saying why the UID failed"
    # the SCP keeps serving: a good instance twice over one association (duplicate kept once)
    out=$("$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/good2.dcm" --count 2)
    [ "$(echo "$out" | grep -c '^STATUS 0x0000$')" = 2 ] || fail "good store after bad input: $out"
    [ "$(count_files "$W/store")" = 1 ] || fail "good instance not stored exactly once"
    cmp <(dataset "$W/src/good2.dcm") <(dataset "$W/store/$UIDR.2.dcm") || fail "raw-sent dataset differs"
    stop_scp
    grep -q 'duplicates=1' "$W/scp.log" || fail "duplicate not seen by the handler"
    ;;
flood)
    # Issue 15, finding 3: 256 idle TCP connections filled the pending-request queue and
    # real associations were refused for up to acse_timeout. Loopback has all of 127/8:
    # 127.0.0.3 is on no allow-list entry, 127.0.0.2 is (but only floods), the real
    # sender is 127.0.0.1. Bounded: 300 + 300 connections, a few seconds.
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --allow SENDER@127.0.0.2 \
        --pending-per-host 4 --request-timeout 2
    SVC_DIR=$(dirname "$0") python3 - "$PORT" >"$W/flood.out" 2>&1 <<'PY' &
import os, socket, sys, time
sys.path.insert(0, os.environ["SVC_DIR"])
from svc import count_closed
port = int(sys.argv[1])
def flood(src, n):
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        out.append(s)
    return out
unknown = flood("127.0.0.3", 300)
known = flood("127.0.0.2", 300)
print("FLOODING", flush=True)
# every unknown-host connection is closed by the server, without waiting for a timeout
print("UNKNOWN_CLOSED", count_closed(unknown, 5), flush=True)
# an allowed host's idle connections: every one is closed, at accept (past its 4
# pending) or at the 2 s request deadline; the server's events say which
print("KNOWN_CLOSED", count_closed(known, 10), flush=True)
PY
    fl=$!
    for _ in $(seq 200); do grep -q FLOODING "$W/flood.out" && break; sleep 0.05; done
    grep -q FLOODING "$W/flood.out" || fail "flood did not start: $(cat "$W/flood.out")"
    # while 600 idle connections are open, the real sender is served
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT || fail "echo refused during the flood"
    mk "$W/src/f1.dcm" $UIDR.31 --seed 31
    send -xe "$W/src/f1.dcm" || fail "store refused during the flood"
    [ -f "$W/store/$UIDR.31.dcm" ] || fail "instance not stored during the flood"
    wait $fl
    cat "$W/flood.out"
    grep -q '^UNKNOWN_CLOSED 300$' "$W/flood.out" || fail "unknown-host connections left open"
    grep -q '^KNOWN_CLOSED 300$' "$W/flood.out" || fail "an allowed host's idle connections left open"
    at_accept=$(grep -c '^EVENT rejected .*127.0.0.2 .*limit of connections waiting' "$W/scp.log")
    at_deadline=$(grep -c '^EVENT rejected .*127.0.0.2 .*within the request timeout' "$W/scp.log")
    echo "127.0.0.2: $at_accept closed at accept, $at_deadline at the request deadline"
    [ $((at_accept + at_deadline)) = 300 ] || fail "not every idle connection accounted for"
    [ "$at_accept" -ge 200 ] && [ "$at_deadline" -ge 4 ] || fail "per-host pending limit not applied"
    grep -q 'not in the allow-list (closed at accept)' "$W/scp.err" || fail "no log line for the unknown host"
    [ "$(grep -c 'closing a connection from 127.0.0.3' "$W/scp.err")" -lt 20 ] || fail "the flood flooded the log"
    stop_scp
    # DICOM on IPv6 (issue 15): the default listener is dual-stack; a store from ::1
    if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
        start_scp "$W/tmp" "$W/store" --allow 'SENDER@::1'
        mk "$W/src/v6.dcm" $UIDR.32 --seed 32
        out=$("$RAW" --host ::1 --port $PORT --called MAMAD --calling SENDER --file "$W/src/v6.dcm")
        echo "$out" | grep -q '^STATUS 0x0000$' || fail "store over IPv6: $out"
        grep -q '^EVENT accepted SENDER ::1' "$W/scp.log" || fail "IPv6 peer not named ::1"
        [ -f "$W/store/$UIDR.32.dcm" ] || fail "IPv6 store not stored"
        out=$("$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/v6.dcm")
        echo "$out" | grep -q '^STATUS' && fail "127.0.0.1 is not on the allow-list but stored: $out"
        stop_scp
        echo "ok: DICOM over IPv6"
    else
        echo "note: no IPv6 loopback here; the IPv6 store is not tried"
    fi
    # per-host limit on open associations: two holders from one host, the third is rejected
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --assoc-per-host 2 --pool 8
    "$RAW" --port $PORT --called MAMAD --calling SENDER --hold 4 >"$W/h1" &
    h1=$!
    "$RAW" --port $PORT --called MAMAD --calling SENDER --hold 4 >"$W/h2" &
    h2=$!
    for _ in $(seq 100); do
        [ "$(grep -c '^EVENT accepted' "$W/scp.log")" = 2 ] && break
        sleep 0.05
    done
    out=$(timeout 5 "$RAW" --port $PORT --called MAMAD --calling SENDER)
    [ "$out" = "ASSOC rejected result=2 source=3 reason=2" ] || fail "third association of one host: '$out'"
    grep -q 'per-host limit' "$W/scp.log" || fail "no per-host reason"
    wait $h1 $h2
    stop_scp
    ;;
tls)
    # DICOM TLS (issue 15): DCMTK's TLS layer, BCP 195 profile, client certificates
    # required; every certificate is made here by the openssl CLI
    command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
    for n in srv cli other; do
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/$n.key" -out "$W/$n.crt" -days 2 \
            -subj /CN=$n -addext subjectAltName=IP:127.0.0.1 2>/dev/null || fail "openssl req $n"
    done
    chmod 600 "$W"/*.key
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --tls-cert "$W/srv.crt" --tls-key "$W/srv.key" \
        --tls-ca "$W/cli.crt" --tls-require 1
    grep -q "(TLS," "$W/scp.err" || fail "the SCP does not say it speaks TLS"
    mk "$W/src/t1.dcm" $UIDR.41 --seed 41
    send +tls "$W/cli.key" "$W/cli.crt" +cf "$W/srv.crt" "$W/src/t1.dcm" || fail "TLS store with a trusted client certificate"
    cmp <(dataset "$W/src/t1.dcm") <(dataset "$W/store/$UIDR.41.dcm") || fail "TLS-received dataset differs"
    mk "$W/src/t2.dcm" $UIDR.42 --seed 42
    send "$W/src/t2.dcm" && fail "plain DICOM accepted on the TLS port"
    send +tls "$W/other.key" "$W/other.crt" +cf "$W/srv.crt" "$W/src/t2.dcm" && fail "an untrusted client certificate was accepted"
    send +tls "$W/cli.key" "$W/cli.crt" +cf "$W/other.crt" "$W/src/t2.dcm" && fail "the client trusted a server it should not"
    [ -f "$W/store/$UIDR.42.dcm" ] && fail "a refused connection stored a file"
    grep -q "not a TLS handshake on the DICOM TLS port" "$W/scp.log" || fail "no reason for the plain connection"
    grep -q "TLS handshake failed" "$W/scp.log" || fail "no reason for the untrusted certificate"
    echoscu -aet SENDER -aec MAMAD +tls "$W/cli.key" "$W/cli.crt" +cf "$W/srv.crt" 127.0.0.1 $PORT || fail "TLS echo after the refusals"
    stop_scp
    echo "ok: DICOM TLS with a required client certificate"
    ;;
pool_full)
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --pool 2
    "$RAW" --port $PORT --called MAMAD --calling SENDER --hold 6 >"$W/h1" &
    h1=$!
    "$RAW" --port $PORT --called MAMAD --calling SENDER --hold 6 >"$W/h2" &
    h2=$!
    for _ in $(seq 100); do
        [ "$(grep -c '^EVENT accepted' "$W/scp.log")" = 2 ] && break
        sleep 0.05
    done
    [ "$(grep -c '^EVENT accepted' "$W/scp.log")" = 2 ] || fail "two holders not accepted"
    t0=$(date +%s%N)
    out=$(timeout 5 "$RAW" --port $PORT --called MAMAD --calling SENDER)
    t1=$(date +%s%N)
    [ "$out" = "ASSOC rejected result=2 source=3 reason=2" ] || fail "third association: got '$out' (want transient local-limit-exceeded)"
    # rejected, not queued: both slots are still held when the answer comes
    kill -0 $h1 2>/dev/null && kill -0 $h2 2>/dev/null || fail "rejection came only after a slot freed"
    echo "ok: third association rejected in $(( (t1 - t0) / 1000000 )) ms while both slots were held"
    grep -q '^EVENT rejected SENDER 127.0.0.1 all 2 association slots are busy' "$W/scp.log" || fail "no pool-full event"
    wait $h1 $h2
    grep -q RELEASED "$W/h1" && grep -q RELEASED "$W/h2" || fail "holders did not release"
    sleep 0.3
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT || fail "echo after the pool drained"
    stop_scp
    ;;
disk_full)
    mk "$W/src/a1.dcm" $UIDR.1 --seed 1
    mk "$W/src/a2.dcm" $UIDR.2 --seed 2
    mk "$W/src/a3.dcm" $UIDR.3 --seed 3
    # (1) fault injection in the SCP's I/O layer: the 2nd store of three fails with ENOSPC
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --fail-store 2
    send -nh "$W/src/a1.dcm" "$W/src/a2.dcm" "$W/src/a3.dcm"
    [ -f "$W/store/$UIDR.1.dcm" ] && [ -f "$W/store/$UIDR.3.dcm" ] || fail "stores around the full disk failed"
    [ -f "$W/store/$UIDR.2.dcm" ] && fail "the store that hit ENOSPC was kept"
    grep -q "C-STORE $UIDR.2 from 'SENDER': 0xa700 failure: disk full" "$W/scp.err" || fail "no 0xA700 log line"
    [ "$(grep -c '^EVENT accepted' "$W/scp.log")" = 1 ] || fail "not one association"
    [ "$(count_files "$W/tmp")" = 0 ] || fail "temporary file left"
    echo "ok: injected ENOSPC -> 0xA700, same association stored the next instance"
    stop_scp
    # (2) a real full file system, where this machine lets us mount a small tmpfs
    MNT="$W/mnt"
    mkdir -p "$MNT"
    if mount -t tmpfs -o size=600k tmpfs "$MNT" 2>/dev/null; then
        mkdir -p "$MNT/tmp" "$MNT/store"
        mk "$W/src/big.dcm" $UIDR.10 --rows 600 --cols 600
        mk "$W/src/small.dcm" $UIDR.11
        start_scp "$MNT/tmp" "$MNT/store" --allow SENDER@127.0.0.1
        send -nh "$W/src/big.dcm" "$W/src/small.dcm"
        grep -q "C-STORE $UIDR.10 from 'SENDER': 0xa700 failure: disk full" "$W/scp.err" || fail "tmpfs: big file did not get 0xA700"
        [ -f "$MNT/store/$UIDR.11.dcm" ] || fail "tmpfs: the next store on the association failed"
        [ "$(count_files "$MNT/tmp")" = 0 ] || fail "tmpfs: temporary file left"
        [ "$(grep -c '^EVENT accepted' "$W/scp.log")" = 1 ] || fail "tmpfs: not one association"
        echo "ok: real ENOSPC on a 600k tmpfs -> 0xA700, space freed, next store succeeded"
        stop_scp
        umount "$MNT" && MNT=
    else
        echo "note: cannot mount a tmpfs here; real ENOSPC not exercised (fault injection was)"
        MNT=
    fi
    ;;
stop)
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    "$RAW" --port $PORT --called MAMAD --calling SENDER --hold 30 >"$W/h1" &
    h1=$!
    for _ in $(seq 100); do grep -q '^EVENT accepted' "$W/scp.log" && break; sleep 0.05; done
    t0=$(date +%s%N)
    stop_scp
    t1=$(date +%s%N)
    echo "ok: stopped with an idle association in $(( (t1 - t0) / 1000000 )) ms"
    [ $(( (t1 - t0) / 1000000 )) -lt 5000 ] || fail "stop took too long"
    grep -q '^EVENT aborted SENDER 127.0.0.1 service is shutting down' "$W/scp.log" || fail "idle association not aborted with a reason"
    wait $h1
    grep -q '^ABORTED by the SCP' "$W/h1" || fail "the idle SCU did not see an A-ABORT: $(cat "$W/h1")"
    # a store in flight when the stop comes finishes, is answered Success and is kept;
    # a new association during the stop is refused
    mk "$W/src/slow.dcm" $UIDR.20 --rows 200 --cols 200     # 80 kB: 10 PDVs, 150 ms apart
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    "$RAW" --port $PORT --called MAMAD --calling SENDER --file "$W/src/slow.dcm" --pace 150 >"$W/s1" &
    s1=$!
    for _ in $(seq 200); do grep -q '^EVENT accepted' "$W/scp.log" && break; sleep 0.05; done
    sleep 0.3                                                # the 1.5 s store is under way
    kill -TERM $PID
    sleep 0.2
    late=$("$RAW" --port $PORT --called MAMAD --calling SENDER)
    wait $s1
    wait $PID || fail "harness exited with an error"
    PID=
    grep -q '^STATUS 0x0000$' "$W/s1" || fail "in-flight store during stop: $(cat "$W/s1")"
    [ -f "$W/store/$UIDR.20.dcm" ] || fail "in-flight store not kept"
    echo "$late" | grep -q '^ASSOC rejected' || fail "association during stop not refused: $late"
    grep -q "^EVENT rejected SENDER 127.0.0.1 service is shutting down" "$W/scp.log" || fail "no shutdown rejection event"
    echo "ok: in-flight store finished during stop, late association refused"
    ;;
phantom)
    # whole generated studies (every extra view, For Processing, retake) in two syntaxes:
    # every file stored byte-identically, and the tags the grouper needs read right
    MAMA=${MAMA_TOOL:-}
    [ -x "$MAMA" ] || { echo "SKIP: no mama tool"; exit 77; }
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1
    seed=7
    for sx in explicit:-xe j2k:-xv; do
        tsname=${sx%%:*} opt=${sx#*:} seed=$((seed + 1))   # another seed: other UIDs
        out="$W/ph_$tsname"
        "$MAMA" phantom --out "$out" --size 256x208 --seed $seed --extra spot,mag,implant,forproc,retake \
            --tsyntax $tsname --quiet || fail "mama phantom $tsname"
        files=$(tail -n +2 "$out/manifest.csv" | cut -d, -f1 | sed "s|^|$out/|")
        send $opt $files || fail "storescu phantom $tsname: $(tail -5 "$W/storescu.log")"
        n=0
        while IFS=, read -r path study series sop class pid acc lat view mods intent ts rows cols bits photo _; do
            case $mods in SPOT) code=R-102D7 ;; MAG) code=R-102D6 ;; ID) code=R-102D5 ;; "") code= ;; *) code=?$mods ;; esac
            want=$(printf 'INFO\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' \
                "$sop" "$study" "$series" "$class" "$pid" "$acc" "$lat" "$view" "$code" "$intent" "$ts" "$rows" "$cols" "$bits" "$photo")
            grep -qxF "$want" "$W/scp.log" || fail "$path: tags read differ: want '$want', got '$(grep -F "INFO	$sop" "$W/scp.log")'"
            cmp <(dataset "$out/$path") <(dataset "$W/store/$sop.dcm") || fail "$path: stored dataset differs"
            n=$((n + 1))
        done < <(tail -n +2 "$out/manifest.csv")
        echo "ok: $n phantom files ($tsname) stored byte-identically, tags as in the manifest"
    done
    [ "$(count_files "$W/tmp")" = 0 ] || fail "temporary files left"
    stop_scp
    ;;
listener)
    # connections that send nothing, too little or no DICOM hold up nobody, and are closed
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --request-timeout 3
    exec 3<>/dev/tcp/127.0.0.1/$PORT || fail "cannot connect"            # silent
    exec 4<>/dev/tcp/127.0.0.1/$PORT || fail "cannot connect"
    printf '\x01\x00\x00\x00' >&4                                        # the start of a request
    exec 5<>/dev/tcp/127.0.0.1/$PORT || fail "cannot connect"
    printf 'GET / HTTP/1.0\r\n\r\n' >&5 2>/dev/null                       # not DICOM
    t0=$(date +%s%N)
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT || fail "echo while a silent connection is open"
    t1=$(date +%s%N)
    echo "ok: echo served in $(( (t1 - t0) / 1000000 )) ms while silent and partial connections were open"
    grep -q "^EVENT released SENDER" "$W/scp.log" || fail "echo association not released"
    # the silent connections are still pending (3 s timeout): the echo did not wait for them
    [ "$(grep -c 'sent no complete association request' "$W/scp.err")" = 0 ] || fail "echo waited for the timeout"
    grep -q 'closing a connection from 127.0.0.1: not a DICOM association request' "$W/scp.err" || fail "HTTP bytes not refused"
    grep -q '^EVENT rejected - 127.0.0.1 not a DICOM association request' "$W/scp.log" || fail "no event for the HTTP bytes"
    for _ in $(seq 100); do
        [ "$(grep -c 'sent no complete association request within the request timeout' "$W/scp.err")" = 2 ] && break
        sleep 0.1
    done
    [ "$(grep -c 'sent no complete association request within the request timeout' "$W/scp.err")" = 2 ] || fail "silent connections not closed after the request timeout"
    exec 3<&- 4<&- 5<&-
    stop_scp
    # bind address: listening on 127.0.0.1 only, 127.0.0.2 (also loopback) gets no answer
    start_scp "$W/tmp" "$W/store" --allow SENDER@127.0.0.1 --bind 127.0.0.1
    echoscu -aet SENDER -aec MAMAD 127.0.0.1 $PORT || fail "echo on the bound address"
    echoscu -aet SENDER -aec MAMAD 127.0.0.2 $PORT 2>/dev/null && fail "answered on an address not bound"
    echo "ok: --bind 127.0.0.1 listens there only"
    stop_scp
    ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS: $CASE"
