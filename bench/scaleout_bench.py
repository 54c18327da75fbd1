#!/usr/bin/env python3
"""scaleout_bench.py: mamad with 1, 2 and 3 nodes on one PostgreSQL index, and one node on
SQLite against PostgreSQL, side by side in one run (bench/scaleout_bench.sh runs it).

For each setup: N small phantom studies (4 views of 128 x 104) are sent by 8 storescu
senders spread over the nodes (sender i -> node i mod nodes); meanwhile a dashboard
client polls GET /api/v1/studies?limit=100 and GET /api/v1/changes?since=0&limit=100 on
node 1. Printed: instances/s (first send to last acknowledgement), studies scored/min
(first send to the last study scored; one micro-model worker per node), and the p50/p99
latency of the two GETs during the ingest. With --before BIN, an older mamad (one SQLite
connection for REST beside one writer behind a mutex) runs the SQLite setup too: the
before/after of the per-thread connections.

This machine has 2 cores shared by the nodes, PostgreSQL, the senders and the client:
the figures show the overhead and correctness of several nodes, not scaling. Not a test:
nothing here asserts a time.
"""
import argparse
import glob
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "service"))
import svc  # noqa: E402
from svc import Daemon, acked, phantom  # noqa: E402
from pgserver import PgServer  # noqa: E402

VIEWS = ("LCC", "LMLO", "RCC", "RMLO")


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def run_setup(name, work, files, n_studies, n_nodes, index, model, binary=None, pg=None):
    storage = os.path.join(work, name, "storage")
    nodes = []
    saved = svc.MAMAD
    if binary:
        svc.MAMAD = binary
    try:
        for i in range(n_nodes):
            settings = {"storage.dir": storage, "grouper.stable_age": "60s", "dicom.max_associations": "16",
                        "scoring.model": model, "scoring.workers": "1", "log.categories": "main,db"}
            if not binary:
                settings["node.id"] = "n%d" % (i + 1)
            if index == "sqlite":
                settings["storage.index"] = os.path.join(work, name, "index.sqlite")
            d = Daemon(os.path.join(work, name, "n%d" % (i + 1)), settings)
            if index == "postgresql":
                d.settings["storage.index"] = d.index = pg
            d.start()
            nodes.append(d)
        lat = {"studies": [], "changes": []}
        stop = threading.Event()

        def dashboard():
            while not stop.is_set():
                for key, path in (("studies", "/api/v1/studies?limit=100"),
                                  ("changes", "/api/v1/changes?since=0&limit=100")):
                    t0 = time.perf_counter()
                    st, _, _ = nodes[0].http("GET", path)
                    if st == 200:
                        lat[key].append((time.perf_counter() - t0) * 1000.0)

        n_acked = [0]
        lock = threading.Lock()

        def sender(i):
            part = files[i::8]
            _, out = nodes[i % n_nodes].store(part, timeout=600)
            with lock:
                n_acked[0] += acked(out)

        probe = threading.Thread(target=dashboard)
        probe.start()
        t0 = time.time()
        senders = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        t_ingest = time.time() - t0
        stop.set()
        probe.join()
        deadline = time.time() + 600
        n_scored = 0
        while time.time() < deadline:
            _, page = nodes[0].get("/api/v1/studies?state=scored&limit=100")
            n_scored = len(page["studies"]) if isinstance(page, dict) else 0
            if n_scored >= n_studies:
                break
            time.sleep(0.1)
        t_scored = time.time() - t0
        return {"name": name, "inst_s": n_acked[0] / t_ingest, "acked": n_acked[0],
                "scored_min": n_scored / t_scored * 60.0, "scored": n_scored,
                "studies_p50": pct(lat["studies"], 0.5), "studies_p99": pct(lat["studies"], 0.99),
                "changes_p50": pct(lat["changes"], 0.5), "changes_p99": pct(lat["changes"], 0.99),
                "n_get": len(lat["studies"]) + len(lat["changes"])}
    finally:
        svc.MAMAD = saved
        for d in nodes:
            if d.proc:
                d.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--studies", type=int, default=24)
    ap.add_argument("--before", default="", help="an older mamad binary for the 'before' column")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    svc.MAMAD = os.path.join(build, "daemon", "mamad")
    svc.MAMA = os.path.join(build, "tools", "mama")
    work = tempfile.mkdtemp(prefix="scaleout_bench_")
    os.chmod(work, 0o711)
    load0 = open("/proc/loadavg").read().split()[:3]
    print("== scale-out benchmark %s on %s, %d cores, %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          platform.node(), os.cpu_count(), platform.platform()))
    print("load average before: %s" % " ".join(load0))
    model = os.path.join(work, "micro.safetensors")
    subprocess.run([svc.MAMA, "model-init", "--out", model, "--config", "micro"], check=True, capture_output=True)
    dirs = phantom(os.path.join(work, "ph"), "--count", str(args.studies), "--seed", "41")
    files = sorted(os.path.join(d, v + ".dcm") for d in dirs for v in VIEWS)
    print("input: %d studies, %d instances of %d bytes; 8 senders; scoring: micro model, 1 worker per node"
          % (len(dirs), len(files), os.path.getsize(files[0])))
    server = PgServer(os.path.join(work, "pg")).start()
    rows = []
    try:
        setups = [("sqlite x1", 1, "sqlite", None)]
        if args.before:
            setups.append(("sqlite x1 before", 1, "sqlite", os.path.abspath(args.before)))
        setups += [("postgresql x1", 1, "postgresql", None), ("postgresql x2", 2, "postgresql", None),
                   ("postgresql x3", 3, "postgresql", None)]
        for k, (name, n, index, binary) in enumerate(setups):
            pg = server.create_db("bench%d" % k) if index == "postgresql" else None
            rows.append(run_setup(name.replace(" ", "_"), work, files, len(dirs), n, index, model, binary, pg))
            rows[-1]["name"] = name
    finally:
        server.stop()
    print()
    print("%-18s %9s %11s %12s %12s %12s %12s %6s" % ("setup", "inst/s", "scored/min", "studies p50",
          "studies p99", "changes p50", "changes p99", "GETs"))
    for r in rows:
        print("%-18s %9.1f %11.1f %10.1fms %10.1fms %10.1fms %10.1fms %6d%s" % (
            r["name"], r["inst_s"], r["scored_min"], r["studies_p50"], r["studies_p99"], r["changes_p50"],
            r["changes_p99"], r["n_get"],
            "" if r["acked"] == len(files) and r["scored"] == len(dirs)
            else "  (acked %d/%d, scored %d/%d)" % (r["acked"], len(files), r["scored"], len(dirs))))
    base = rows[0]
    print()
    for r in rows[1:]:
        print("%-18s / sqlite x1: inst/s %.2f, scored/min %.2f, GET /studies p50 %.2f, p99 %.2f" % (
            r["name"], r["inst_s"] / base["inst_s"], r["scored_min"] / base["scored_min"],
            r["studies_p50"] / base["studies_p50"], r["studies_p99"] / base["studies_p99"]))
    print("load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("note: %d cores shared by every node, PostgreSQL, 8 senders and the dashboard client: these "
          "figures show overhead, not scaling." % os.cpu_count())
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
