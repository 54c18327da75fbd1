#!/usr/bin/env python3
"""nodes_test.py CASE: several mamad nodes on one PostgreSQL index and one storage folder
(real processes on loopback, a real PostgreSQL server from pgserver.py, DCMTK storescu,
real HTTP, a micro model from `mama model-init`). Skipped (77) without PostgreSQL.

Cases:
  spread        three nodes; ten senders send 40 studies, each view to a random node:
                every instance indexed once, every study complete once and scored once.
  kill_scoring  a scorer node stalls in scoring (strace delays its open of one view),
                keeps its lease alive by renewing it, then is killed -9: another node
                queues the study again after the lease and scores it, once.
  kill_receive  a node is killed -9 while receiving: every acknowledged instance is in
                the shared index with its bytes; a re-send to another node completes all.
  db_restart    the PostgreSQL server restarts while senders ingest through two nodes:
                the nodes reconnect, every acknowledged instance is indexed, the senders
                see failures only for instances not acknowledged.
"""
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import svc  # noqa: E402
from svc import MAMA, Daemon, acked, check, dataset_bytes, index_rows, phantom, run_case, sha256, Fail  # noqa: E402
from pgserver import pg_bindir  # noqa: E402

VIEWS = ("LCC", "LMLO", "RCC", "RMLO")
DB = "nodes"


def micro_model(work):
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    if r.returncode != 0:
        raise Fail("mama model-init: " + r.stderr)
    return model


def node(work, name, settings, storage, daemons, start=True, wrap=None):
    base = {"storage.dir": storage, "node.id": name, "grouper.stable_age": "30s", "scoring.lease": "1s",
            "scoring.workers": "1", "dicom.max_associations": "16"}
    base.update(settings)
    d = Daemon(os.path.join(work, name), base, pg_db=DB)
    d.strace_wrap = wrap   # (not "wrap": svc.Daemon may have its own prefix hook)
    daemons.append(d)
    if start:
        start_node(d)
    return d


def start_node(d):
    if getattr(d, "strace_wrap", None):
        # Daemon.start runs MAMAD; run it under a wrapper (strace) by swapping the binary.
        saved = svc.MAMAD
        wrapper = os.path.join(d.work, "wrapped.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s %s \"$@\"\n" % (" ".join(d.strace_wrap), saved))
        os.chmod(wrapper, 0o755)
        svc.MAMAD = wrapper
        try:
            d.start()
        finally:
            svc.MAMAD = saved
    else:
        d.start()
    return d


def changes_all(d):
    st, doc = d.get("/api/v1/changes?since=0&limit=10000")
    check(st == 200 and doc["done"], "the changes feed answers (%d rows)" % len(doc["changes"]))
    return doc["changes"]


def count(changes, typ, uid):
    return sum(1 for c in changes if c["type"] == typ and c["study"] == uid)


def wait_state(d, uid, state, timeout):
    return d.wait_study(uid, lambda s: s["state"] == state, timeout=timeout, period=0.05)


def fnv1a(text):
    h = 2166136261
    for ch in text.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def spread(work, daemons):
    model = micro_model(work)
    storage = os.path.join(work, "storage")
    nodes = [node(work, "n%d" % i, {"scoring.model": model}, storage, daemons) for i in (1, 2, 3)]
    dirs = phantom(work + "/ph", "--count", "40", "--seed", "23")
    check(len(dirs) == 40, "40 phantom studies")
    rng = random.Random(1717)
    batches = {}
    files = []
    for sd in dirs:
        for v in VIEWS:
            p = os.path.join(sd, v + ".dcm")
            files.append(p)
            batches.setdefault((rng.randrange(10), rng.randrange(3)), []).append(p)
    uids = {svc.study_uid(os.path.join(sd, "LCC.dcm")) for sd in dirs}
    split = sum(1 for sd in dirs if len({n for (_, n), c in batches.items() for p in c if p.startswith(sd + "/")}) > 1)
    check(split >= 30, "%d of 40 studies have their views sent to more than one node" % split)
    n_acked = [0]
    lock = threading.Lock()

    def sender(s):
        for (snd, n), chunk in sorted(batches.items()):
            if snd != s:
                continue
            rc, out = nodes[n].store(chunk, timeout=120)
            with lock:
                n_acked[0] += acked(out)

    threads = [threading.Thread(target=sender, args=(s,)) for s in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(n_acked[0] == 160, "ten senders over three nodes: 160 of 160 acknowledged")
    deadline = time.time() + 180
    while time.time() < deadline:
        _, page = nodes[0].get("/api/v1/studies?state=scored&limit=100")
        if len(page["studies"]) == 40:
            break
        time.sleep(0.2)
    check(len(page["studies"]) == 40, "all 40 studies scored (%d)" % len(page["studies"]))
    rows = index_rows(nodes[1].index, "SELECT sop_uid, path FROM instances")
    check(len(rows) == 160 and len({r[0] for r in rows}) == 160, "every instance indexed once (160 rows)")
    on_disk = glob.glob(os.path.join(storage, "*", "*", "*.dcm"))
    check(len(on_disk) == 160 and {r[1] for r in rows} == set(on_disk), "one file per instance on the shared storage")
    check(index_rows(nodes[2].index, "SELECT value FROM counters WHERE name = ?", ("duplicates",)) == [(0,)],
          "no duplicate counted")
    ch = changes_all(nodes[2])
    seqs = [c["seq"] for c in ch]
    check(seqs == sorted(set(seqs)), "the changes feed is in one increasing order across nodes")
    for uid in uids:
        for typ in ("NewStudy", "StudyComplete", "NewResult", "StudyScored"):
            if count(ch, typ, uid) != 1:
                raise Fail("study %s: %d %s changes (want 1)" % (uid, count(ch, typ, uid), typ))
    check(True, "each study: one NewStudy, one StudyComplete, one NewResult, one StudyScored")
    res = index_rows(nodes[0].index, "SELECT study_uid, version, node FROM results")
    check(len(res) == 40 and all(r[1] == 1 for r in res), "40 results, all version 1: scored once each")
    by_node = {}
    for r in res:
        by_node[r[2]] = by_node.get(r[2], 0) + 1
    print("results by node:", by_node)
    check(set(by_node) <= {"n1", "n2", "n3"}, "every result names its node")
    makers = {c["node"] for c in ch}
    check(makers == {"n1", "n2", "n3"}, "changes come from all three nodes (%s)" % sorted(makers))
    total_in = total_ok = 0
    for i, d in enumerate(nodes):
        st, h = d.get("/api/v1/health", token=None)
        check(st == 200 and h["node"] == "n%d" % (i + 1) and h["index"] == "postgresql", "health of n%d" % (i + 1))
        total_in += d.metric("mamad_instances_received_total")
        total_ok += d.metric('mamad_scoring_total{outcome="ok"}')
        d.metric('mamad_node_info{node="n%d",index="postgresql"}' % (i + 1))
    check(total_in == 160, "per-node metrics: received totals add up to 160")
    check(total_ok == 40, "per-node metrics: scorings add up to 40")
    for d in nodes:
        check(d.stop() == 0, "node %s stops cleanly" % d.settings["node.id"])


def kill_scoring(work, daemons):
    if not shutil.which("strace"):
        print("SKIP: strace not installed")
        sys.exit(77)
    model = micro_model(work)
    storage = os.path.join(work, "storage")
    sd = phantom(work + "/ph", "--count", "1", "--seed", "29")[0]
    files = [os.path.join(sd, v + ".dcm") for v in VIEWS]
    uid = svc.study_uid(files[0])
    stall = os.path.join(storage, "%02x" % (fnv1a(uid) & 0xFF), uid, svc.sop_uid(files[0]) + ".dcm")
    # n1 scores only (no DICOM) and stalls 60 s when it opens the study's L-CC view.
    lease = {"scoring.lease": "2s"}
    n1 = node(work, "n1", dict(lease, **{"scoring.model": model, "dicom.enabled": "false"}), storage, daemons,
              wrap=["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=openat,open",
                    "-e", "inject=openat,open:delay_enter=60000000", "-P", stall])
    n2 = node(work, "n2", dict(lease, **{"scoring.workers": "0"}), storage, daemons)   # receives only
    rc, out = n2.store(files)
    check(acked(out) == 4, "four views stored at the receiver-only node")
    deadline = time.time() + 20
    while time.time() < deadline:
        rows = index_rows(n2.index, "SELECT state, claimed_by FROM studies WHERE uid = ?", (uid,))
        if rows and rows[0][0] == 4 and rows[0][1] == "n1":
            break
        time.sleep(0.05)
    check(rows and rows[0][1] == "n1", "the scorer-only node n1 claimed the study")
    time.sleep(5.0)   # two and a half leases
    rows = index_rows(n2.index, "SELECT state, claimed_by FROM studies WHERE uid = ?", (uid,))
    check(rows[0][0] == 4 and rows[0][1] == "n1", "after 5 s (2.5 leases) n1 still holds it: its lease is renewed")
    n3 = node(work, "n3", dict(lease, **{"scoring.model": model}), storage, daemons)   # a second scorer joins
    time.sleep(1.5)
    rows = index_rows(n2.index, "SELECT state, claimed_by FROM studies WHERE uid = ?", (uid,))
    check(rows[0][1] == "n1", "a live claim is not taken by the new node")
    # kill -9 the mamad under strace (strace's child), not strace
    kids = open("/proc/%d/task/%d/children" % (n1.proc.pid, n1.proc.pid)).read().split()
    check(len(kids) == 1, "n1's mamad process found under strace")
    os.kill(int(kids[0]), signal.SIGKILL)
    n1.proc.kill()   # and strace, which would sit out its injected delay
    n1.proc.wait(timeout=20)
    n1.proc = None
    n1.logf.close()
    t_kill = time.time()
    doc, t_done = wait_state(n3, uid, "scored", timeout=30)
    print("re-scored %.1f s after the kill" % (t_done - t_kill))
    check(doc["latest_result"]["version"] == 1 and doc["attempts"] == 2, "scored once, on the second attempt")
    res = index_rows(n3.index, "SELECT version, node FROM results WHERE study_uid = ?", (uid,))
    check(res == [(1, "n3")], "the one result is n3's")
    # (ResultObjects, when results are published to a PACS, is not part of this story)
    seq = [(c["type"], c["node"]) for c in changes_all(n3) if c["study"] == uid and c["type"] != "ResultObjects"]
    # the re-queue is made by whichever live node's timer saw the lapsed lease first
    requeuer = seq[4][1] if len(seq) > 4 else "?"
    want = [("NewStudy", "n2"), ("StudyComplete", "n2"), ("StudyQueued", "n2"), ("StudyScoring", "n1"),
            ("StudyQueued", requeuer), ("StudyScoring", "n3"), ("NewResult", "n3"), ("StudyScored", "n3")]
    check(seq == want and requeuer in ("n2", "n3"), "changes: received at n2, claimed by n1, queued again "
          "by a live node after the lease, scored by n3 (%s)" % seq)
    for d in (n2, n3):
        check(d.stop() == 0, "node %s stops cleanly" % d.settings["node.id"])


def _store_each(d, files, acked_files, lock, stop):
    for p in files:  # one association per instance: each Success is known exactly
        if stop.is_set():
            return
        try:
            rc, out = d.store([p], timeout=30)
        except subprocess.TimeoutExpired:
            continue
        if acked(out) == 1:
            with lock:
                acked_files.append(p)


def _check_acked_present(d, acked_files, what):
    paths = {r[0]: r[1] for r in index_rows(d.index, "SELECT sop_uid, path FROM instances")}
    stored = {sha256(dataset_bytes(p)) for p in paths.values()}
    missing = [p for p in acked_files if sha256(dataset_bytes(p)) not in stored]
    if missing:
        raise Fail("%s: %d acknowledged instances missing, e.g. %s" % (what, len(missing), missing[0]))
    check(True, "%s: every acknowledged instance (%d) is indexed with its bytes" % (what, len(acked_files)))
    return paths


def kill_receive(work, daemons):
    storage = os.path.join(work, "storage")
    n1 = node(work, "n1", {"scoring.workers": "0", "grouper.stable_age": "2s"}, storage, daemons)
    n2 = node(work, "n2", {"scoring.workers": "0", "grouper.stable_age": "2s"}, storage, daemons)
    phantom(work + "/ph", "--count", "12", "--seed", "31")
    files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
    acked_files, lock, stop = [], threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_store_each, args=(n1, files[i::4], acked_files, lock, stop)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked_files) < 12 and time.time() < deadline:
        time.sleep(0.02)
    n1.kill9()
    stop.set()
    for t in threads:
        t.join()
    check(12 <= len(acked_files) < len(files), "n1 killed mid-receive: %d of %d acknowledged" % (len(acked_files), len(files)))
    _check_acked_present(n2, acked_files, "after kill -9 of n1")
    # the senders fail over to n2 and send everything again: kept once, every study completes
    rc, out = n2.store(files)
    check(rc == 0 and acked(out) == len(files), "re-send to n2: all Success")
    check(index_rows(n2.index, "SELECT COUNT(*) FROM instances")[0][0] == len(files), "each instance indexed once")
    _, page = n2.get("/api/v1/studies?limit=100")
    check(len(page["studies"]) == 12 and all(s["complete"] for s in page["studies"]), "all 12 studies complete")
    ch = changes_all(n2)
    bad = [s["uid"] for s in page["studies"] if count(ch, "StudyComplete", s["uid"]) != 1]
    check(not bad, "every study complete exactly once")
    check(n2.stop() == 0, "n2 stops cleanly")


def db_restart(work, daemons):
    storage = os.path.join(work, "storage")
    n1 = node(work, "n1", {"scoring.workers": "0"}, storage, daemons)
    n2 = node(work, "n2", {"scoring.workers": "0"}, storage, daemons)
    phantom(work + "/ph", "--count", "16", "--seed", "37")
    files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
    acked_files, lock, stop = [], threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_store_each, args=((n1, n2)[i % 2], files[i::6], acked_files, lock, stop))
               for i in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked_files) < 10 and time.time() < deadline:
        time.sleep(0.02)
    n_before = len(acked_files)
    svc._pg["server"].restart()   # pg_ctl restart -m fast: sessions are cut, in-flight work aborted
    check(True, "PostgreSQL restarted under load after %d acknowledgements" % n_before)
    for t in threads:
        t.join()
    check(len(acked_files) > n_before, "ingest went on after the restart (%d acknowledged in all)" % len(acked_files))
    paths = _check_acked_present(n1, acked_files, "after the database restart")
    not_acked = [p for p in files if p not in acked_files]
    print("not acknowledged (the senders saw a failure and may retry): %d" % len(not_acked))
    st, h = n1.get("/api/v1/health", token=None)
    check(st == 200 and h["database"] == "ok", "n1 reconnected: health ok")
    st, h = n2.get("/api/v1/health", token=None)
    check(st == 200 and h["database"] == "ok", "n2 reconnected: health ok")
    retry_log = n1.log() + n2.log()
    check(len(paths) >= len(acked_files), "index rows >= acknowledged")
    rc, out = n2.store(not_acked or files[:1])
    check(acked(out) == len(not_acked or files[:1]), "the senders' retries of the failed ones succeed")
    check(index_rows(n1.index, "SELECT COUNT(*) FROM instances")[0][0] == len(files), "every instance indexed once")
    retries = [ln for ln in retry_log.splitlines() if "retrying" in ln or "after" in ln and "retr" in ln]
    print("\n".join(retries[:8]))
    check(any("retrying" in ln for ln in retries) and any("succeeded after" in ln for ln in retries),
          "the restart reached the nodes: they retried and succeeded (%d log lines)" % len(retries))
    for d in (n1, n2):
        check(d.stop() == 0, "node %s stops cleanly" % d.settings["node.id"])


CASES = {f.__name__: f for f in (spread, kill_scoring, kill_receive, db_restart)}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: nodes_test.py {%s}" % "|".join(CASES))
        sys.exit(2)
    if not pg_bindir():
        print("SKIP: PostgreSQL is not installed (apt install postgresql)")
        sys.exit(77)
    sys.exit(run_case(CASES, sys.argv[1]))
