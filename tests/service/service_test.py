#!/usr/bin/env python3
"""service_test.py CASE: integration tests of mamad (real daemon on loopback, real SQLite,
DCMTK storescu/echoscu, real HTTP). One meson test per case; see svc.py for the harness.

Cases: disk_full scoring four_view grouping timeout parallel kill9 bad_input rest changes shutdown
series_laterality secondary_capture scored_incomplete import_images send_compressed
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svc import (ADMIN_TOKEN, HARNESS, MAMA, MAMAD, RAWSCU, Daemon, acked, check, dataset_bytes,  # noqa: E402
                 index_rows, phantom, run_case, sha256, sop_uid, study_uid, tag, Fail, AE, SENDER)

VIEWS = {"L-CC": "LCC", "L-MLO": "LMLO", "R-CC": "RCC", "R-MLO": "RMLO"}


def four_view(work, daemons):
    d = Daemon(work + "/d")
    daemons.append(d.start())
    check(d.echo(), "echoscu gets an answer")
    sd = phantom(work + "/ph", "--count", "1", "--seed", "11")[0]
    files = {k: os.path.join(sd, v + ".dcm") for k, v in VIEWS.items()}
    uid = study_uid(files["L-CC"])
    rc, out = d.store([files[k] for k in ("R-MLO", "L-CC", "R-CC", "L-MLO")])
    t_last = time.time()
    check(rc == 0 and acked(out) == 4, "storescu: four Success responses")
    doc, t_seen = d.wait_study(uid, lambda s: s["complete"], timeout=5)
    check(t_seen - t_last < 1.0, "complete over REST %.3f s after the last image (< 1 s)" % (t_seen - t_last))
    check(doc["state"] == "queued", "complete study waits in queued without a model (state %s)" % doc["state"])
    for key, path in files.items():
        check(doc["views"][key] and doc["views"][key]["sop_uid"] == sop_uid(path),
              "view %s is the %s image" % (key, os.path.basename(path)))
    check(doc["missing_views"] == [] and doc["instances"] == 4, "no missing views, 4 instances")
    status, h = d.get("/api/v1/health", token=None)
    check(status == 200 and h["model"]["loaded"] is False and "no model" in h["model"]["message"],
          "health (no token) says no model is loaded")
    check(h["queue_depth"] == 1, "health shows queue depth 1")
    _, ch = d.get("/api/v1/changes?since=0&limit=100")
    types = [c["type"] for c in ch["changes"] if c["study"] == uid]
    check(types == ["NewStudy", "StudyComplete", "StudyQueued"], "changes: %s" % types)
    check(d.stop() == 0, "SIGTERM: clean exit")


def grouping(work, daemons):
    d = Daemon(work + "/d")
    daemons.append(d.start())
    sd = phantom(work + "/ph", "--count", "1", "--seed", "12", "--extra", "retake,spot,mag,forproc")[0]
    f = lambda name: os.path.join(sd, name + ".dcm")  # noqa: E731
    retakes = glob.glob(os.path.join(sd, "*_RETAKE.dcm"))
    check(len(retakes) == 1, "phantom made one retake (%s)" % [os.path.basename(r) for r in retakes])
    retake_view = os.path.basename(retakes[0]).split("_")[0]
    retake_key = [k for k, v in VIEWS.items() if v == retake_view][0]
    spot = glob.glob(os.path.join(sd, "*_SPOT.dcm"))
    mag = glob.glob(os.path.join(sd, "*_MAG.dcm"))
    forproc = sorted(glob.glob(os.path.join(sd, "*_FORPROC.dcm")))
    uid = study_uid(f("LCC"))
    # association 1: the retake before its original, one other view, the magnification view
    assoc1 = [retakes[0], f("RMLO" if retake_view != "RMLO" else "RCC")] + mag
    views1 = {os.path.basename(p).split("_")[0].split(".")[0] for p in assoc1 if p not in mag}
    rc, out = d.store(assoc1)
    check(rc == 0 and acked(out) == len(assoc1), "association 1: %d Success" % len(assoc1))
    # association 2: spot views, For Processing images of views already present (For
    # Processing fills a view only when no For Presentation image does) and the original
    # of the retake
    fp_now = [p for p in forproc if os.path.basename(p).split("_")[0] in views1]
    assoc2 = spot + fp_now + [f(retake_view)]
    rc, out = d.store(assoc2)
    check(rc == 0 and acked(out) == len(assoc2), "association 2: %d Success" % len(assoc2))
    doc = d.study(uid)
    check(not doc["complete"] and doc["state"] == "receiving" and len(doc["missing_views"]) == 2,
          "after two associations: spot/magnification views do not count, still receiving (missing %s)"
          % doc["missing_views"])
    # association 3: a duplicate of an image already stored, the other For Processing
    # images, then the remaining views
    rest = [f(v) for v in VIEWS.values() if v not in views1 and v != retake_view]
    assoc3 = [f(retake_view)] + [p for p in forproc if p not in fp_now] + rest
    rc, out = d.store(assoc3)
    check(rc == 0 and acked(out) == len(assoc3), "association 3 (with a duplicate): all Success")
    doc, _ = d.wait_study(uid, lambda s: s["complete"], timeout=5)
    check(doc["views"][retake_key]["sop_uid"] == sop_uid(retakes[0]),
          "%s is the retake (later acquisition), although it arrived first" % retake_key)
    for key, v in VIEWS.items():
        if key != retake_key:
            check(doc["views"][key]["sop_uid"] == sop_uid(f(v)),
                  "%s is the For Presentation %s.dcm" % (key, v))
            check(doc["views"][key]["presentation_intent"] == "FOR PRESENTATION", "%s: For Presentation" % key)
    n_unique = len(set(assoc1 + assoc2 + assoc3))
    check(doc["instances"] == n_unique, "every unique instance indexed once (%d)" % n_unique)
    for p in spot + mag:
        row = [i for i in doc["instance_list"] if i["sop_uid"] == sop_uid(p)]
        check(len(row) == 1 and row[0]["view_key"] == "" and not row[0]["selected"],
              "%s stored but not a screening view" % os.path.basename(p))
    check(d.metric("mamad_duplicates_total") == 1, "the duplicate is counted")
    rows = index_rows(d.index, "SELECT COUNT(*) FROM instances WHERE sop_uid = ?", (sop_uid(f(retake_view)),))
    check(rows[0][0] == 1, "the duplicate is indexed once")
    check(len(glob.glob(os.path.join(d.storage, "*", uid, "*.dcm"))) == n_unique, "one file per instance")


def timeout(work, daemons):
    d = Daemon(work + "/d", {"grouper.stable_age": "1s"})
    daemons.append(d.start())
    sd = phantom(work + "/ph", "--count", "1", "--seed", "13", "--views", "LCC,RCC,LMLO")[0]
    files = sorted(glob.glob(os.path.join(sd, "*.dcm")))
    check(len(files) == 3, "a three-view study")
    uid = study_uid(files[0])
    rc, out = d.store(files)
    t_last = time.time()
    check(rc == 0 and acked(out) == 3, "three Success responses")
    doc = d.study(uid)
    check(doc["state"] == "receiving" and not doc["complete"], "receiving right after the last image")
    doc, t = d.wait_study(uid, lambda s: s["state"] != "receiving", timeout=6)
    waited = t - t_last
    check(0.8 <= waited <= 3.0, "left receiving %.2f s after the last image (stable_age 1 s)" % waited)
    check(doc["state"] == "queued" and doc["complete"] is False, "queued and marked incomplete")
    check("stable_age" in doc["reason"] and "R-MLO" in doc["reason"], "reason: %s" % doc["reason"])
    check(doc["missing_views"] == ["R-MLO"], "missing view R-MLO")
    _, ch = d.get("/api/v1/changes?since=0&limit=100")
    check("StudyTimedOut" in [c["type"] for c in ch["changes"] if c["study"] == uid], "StudyTimedOut change")


def _files_under(top):
    """Files below top (each node has its own folder under storage/tmp)."""
    return [os.path.join(r, f) for r, _, fs in os.walk(top) for f in fs]


def _dataset_hashes(paths):
    return {sha256(dataset_bytes(p)) for p in paths}


def parallel(work, daemons):
    d = Daemon(work + "/d", {"dicom.max_associations": "12"})
    daemons.append(d.start())
    phantom(work + "/ph", "--count", "50", "--seed", "14")
    files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
    check(len(files) == 200, "200 instances (50 four-view studies)")
    results = [None] * 10

    def sender(i):
        results[i] = d.store(files[i * 20:(i + 1) * 20])

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(10)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.time() - t0
    check(all(r[0] == 0 and acked(r[1]) == 20 for r in results), "10 senders x 20: all Success (%.1f s)" % took)
    rows = index_rows(d.index, "SELECT sop_uid, path, size FROM instances")
    check(len(rows) == 200 and len({r[0] for r in rows}) == 200, "200 rows, one per SOP Instance UID")
    stored = [r[1] for r in rows]
    check(all(os.path.getsize(p) == r[2] for p, r in zip(stored, rows)), "sizes in the index match the files")
    sent_h = _dataset_hashes(files)
    check(len(sent_h) == 200, "the sent datasets are distinct")
    check(_dataset_hashes(stored) == sent_h, "every stored dataset byte-identical to the sent one (SHA-256)")
    whole = sum(1 for p in files if sha256(open(p, "rb").read()) in
                {sha256(open(s, "rb").read()) for s in stored})
    print("note: %d of 200 stored files identical including the meta header" % whole)
    _, page = d.get("/api/v1/studies?limit=1000")
    check(len(page["studies"]) == 50 and all(s["complete"] for s in page["studies"]), "50 complete studies")
    check(d.metric("mamad_instances_indexed") == 200, "metrics: 200 instances indexed")


def kill9(work, daemons):
    d = Daemon(work + "/d", {"grouper.stable_age": "2s"})
    daemons.append(d.start())
    phantom(work + "/ph", "--count", "16", "--seed", "15")
    files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
    acked_files = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(chunk):
        for p in chunk:  # one association per instance: each Success is known exactly
            if stop.is_set():
                return
            try:
                rc, out = d.store([p], timeout=30)
            except subprocess.TimeoutExpired:
                return
            if acked(out) == 1:
                with lock:
                    acked_files.append(p)
            else:
                return

    chunks = [files[i::4] for i in range(4)]
    threads = [threading.Thread(target=sender, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked_files) < 20 and time.time() < deadline:
        time.sleep(0.02)
    d.kill9()
    stop.set()
    for t in threads:
        t.join()
    n_acked = len(acked_files)
    check(20 <= n_acked < len(files), "killed mid-transfer: %d of %d acknowledged" % (n_acked, len(files)))
    rows = index_rows(d.index, "PRAGMA integrity_check")
    check(rows == [("ok",)], "PRAGMA integrity_check ok after kill -9")
    paths = {r[0]: r[1] for r in index_rows(d.index, "SELECT sop_uid, path FROM instances")}
    stored_h = _dataset_hashes(paths.values())
    for p in acked_files:
        if sha256(dataset_bytes(p)) not in stored_h:
            raise Fail("acknowledged %s is missing after kill -9" % p)
    check(True, "every acknowledged instance is indexed with its bytes")
    bad = [p for p in paths.values()
           if subprocess.run(["dcmdump", "-q", p], capture_output=True).returncode != 0]
    check(not bad, "every indexed file is readable DICOM")
    d.start()
    check(not _files_under(os.path.join(d.storage, "tmp")), "restart cleaned unfinished transfers")
    _, page = d.get("/api/v1/studies?limit=100")
    states = {s["uid"]: s["state"] for s in page["studies"]}
    check(all(st in ("receiving", "queued") for st in states.values()), "after restart: %s" % sorted(set(states.values())))
    # receiving studies resume: their persisted deadlines time them out into the queue
    deadline = time.time() + 8
    while time.time() < deadline:
        _, page = d.get("/api/v1/studies?state=receiving&limit=100")
        if not page["studies"]:
            break
        time.sleep(0.1)
    check(not page["studies"], "interrupted receiving studies timed out into the queue")
    # the sender retries everything; duplicates are kept once and every study completes
    rc, out = d.store(files)
    check(rc == 0 and acked(out) == len(files), "re-send after restart: all Success")
    _, page = d.get("/api/v1/studies?limit=100")
    check(len(page["studies"]) == 16 and all(s["complete"] and s["state"] == "queued" for s in page["studies"]),
          "all 16 studies complete and queued")
    check(index_rows(d.index, "SELECT COUNT(*) FROM instances")[0][0] == len(files), "each instance indexed once")
    check(d.stop() == 0, "clean stop")


def bad_input(work, daemons):
    d = Daemon(work + "/d")
    daemons.append(d.start())
    src = work + "/src"
    os.makedirs(src)
    study = "1.2.826.0.1.3680043.9.7433.2.9"

    def mk(name, sop, seed):
        p = os.path.join(src, name)
        r = subprocess.run([HARNESS, "mkdcm", p, "--sop", sop, "--study", study, "--series", study + ".1",
                            "--seed", str(seed)], capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail("mkdcm: " + r.stdout + r.stderr)
        return p

    good = mk("good.dcm", study + ".1", 1)
    evil = mk("evil.dcm", "1.2.3/../../evil", 2)
    evil2 = mk("evil2.dcm", "1.2.3..4", 3)

    def files_now():
        return sorted(p for p in glob.glob(os.path.join(d.storage, "**"), recursive=True) if os.path.isfile(p))

    def n_rows():
        return index_rows(d.index, "SELECT COUNT(*) FROM instances")[0][0]

    before = files_now()
    check(not d.echo(calling="INTRUDER"), "unknown calling AE: association rejected")
    rc, out = d.store([good], calling="INTRUDER")
    check(acked(out) == 0, "unknown calling AE cannot store")
    check("INTRUDER" in d.log() and "rejected" in d.log(), "the rejection is logged with the AE")

    def raw(want, what, *args):
        r = subprocess.run([RAWSCU, "--port", str(d.dicom_port), "--called", "MAMAD", "--calling", "DEMO"] +
                           list(args), capture_output=True, text=True, timeout=60)
        check(("STATUS %s" % want) in r.stdout, "%s -> %s (%s)" % (what, want, r.stdout.strip().replace("\n", "; ")))
        check(files_now() == before and n_rows() == 0, "%s: nothing left behind" % what)
        check(d.echo(), "%s: the daemon keeps serving" % what)

    raw("0xC000", "non-DICOM bytes", "--file", good, "--mode", "garbage")
    raw("0xC000", "truncated dataset", "--file", good, "--mode", "truncate")
    raw("0xA900", "SOP Instance UID differs from the request", "--file", good, "--cmd-sop", study + ".99")
    raw("0xC000", "UID with path characters", "--file", evil)
    raw("0xC000", "UID with an empty component", "--file", evil2)
    check(not glob.glob(os.path.join(work, "**", "evil*"), recursive=True) or
          all(p.startswith(src) for p in glob.glob(os.path.join(work, "**", "evil*"), recursive=True)),
          "no path made from the bad UID")
    rc, out = d.store([good])
    check(acked(out) == 1 and n_rows() == 1, "a good instance is stored after all that")
    status, _ = d.get("/api/v1/health", token=None)
    check(status == 200, "REST still healthy")
    check(d.metric("mamad_associations_total{result=\"rejected\"}") >= 2, "rejections counted")


def rest(work, daemons):
    d = Daemon(work + "/d", {"rest.max_body": "1024"})
    daemons.append(d.start())
    dirs = phantom(work + "/ph", "--count", "3", "--seed", "16")
    uids = []
    for sd in dirs:  # one association per study: ids grow in this order
        rc, out = d.store(sorted(glob.glob(os.path.join(sd, "*.dcm"))))
        check(acked(out) == 4, "study stored")
        uids.append(study_uid(glob.glob(os.path.join(sd, "*.dcm"))[0]))
    api = "/api/v1"

    def err(status, doc, want_status, code, what):
        check(status == want_status and isinstance(doc, dict) and doc.get("error", {}).get("code") == code
              and doc["error"].get("message"), "%s -> %d %s" % (what, want_status, code))

    st, doc = d.get(api + "/health", token=None)
    check(st == 200 and doc["status"] == "ok", "health needs no token")
    st, hdr, body = d.http("GET", api + "/studies", token=None)
    check(st == 401 and "Bearer" in hdr.get("WWW-Authenticate", ""), "no token -> 401 with WWW-Authenticate")
    st, doc = d.get(api + "/studies", token="wrong-token-0123456789")
    err(st, doc, 401, "unauthorized", "wrong token")
    st, doc = d.get("/metrics", token=None)
    err(st, doc, 401, "unauthorized", "metrics without a token")
    st, _, body = d.http("POST", api + "/studies/%s/rescore" % uids[0])
    import json
    err(st, json.loads(body), 403, "forbidden", "read token on an admin endpoint")
    st, _, body = d.http("POST", api + "/studies/%s/rescore" % uids[0], token=ADMIN_TOKEN)
    check(st == 202 and json.loads(body)["state"] == "queued", "admin rescore -> 202 queued")
    for q in ("limit=0", "limit=abc", "limit=1001", "limit=", "since=-1", "since=1e3", "state=bogus",
              "since=99999999999999999999"):
        st, doc = d.get(api + "/studies?" + q)
        err(st, doc, 400, "bad_parameter", "studies?" + q)
    st, doc = d.get(api + "/changes?limit=0")
    err(st, doc, 400, "bad_parameter", "changes?limit=0")
    st, doc = d.get(api + "/studies/1.2.999")
    err(st, doc, 404, "study_not_found", "unknown study")
    for bad in ("1.2.abc", "1.02.3", "1..2", "..", "1.2%2E%2E", "1." + "2" * 70):
        st, doc = d.get(api + "/studies/" + bad)
        err(st, doc, 400, "invalid_uid", "study uid '%s'" % bad[:20])
    st, doc = d.get(api + "/studies/..%2F..%2Fetc")  # decoded to more path segments: no route
    err(st, doc, 404, "not_found", "study uid with encoded slashes")
    st, doc = d.get(api + "/nowhere")
    err(st, doc, 404, "not_found", "unknown endpoint")
    st, hdr, body = d.http("DELETE", api + "/studies")
    check(st == 405 and hdr.get("Allow") == "GET" and json.loads(body)["error"]["code"] == "method_not_allowed",
          "DELETE /studies -> 405 with Allow: GET")
    st, _, body = d.http("POST", api + "/models/reload", token=ADMIN_TOKEN, body=b"x" * 5000)
    err(st, json.loads(body), 413, "body_too_large", "body over rest.max_body")
    st, _, body = d.http("POST", api + "/models/reload", token=ADMIN_TOKEN)
    err(st, json.loads(body), 409, "no_model", "reload without a model")
    st, doc = d.get(api + "/models")
    check(st == 200 and doc["models"] == [], "no models loaded")
    # paging: newest first, cursor 'next', done on the last page
    seen, since = [], None
    while True:
        st, doc = d.get(api + "/studies?limit=1" + ("&since=%d" % since if since else ""))
        check(st == 200 and len(doc["studies"]) == 1, "a page of one study")
        seen.append(doc["studies"][0]["uid"])
        if doc["done"]:
            check(doc["next"] is None, "last page has no next cursor")
            break
        since = doc["next"]
    check(seen == uids[::-1], "three pages, newest first")
    st, doc = d.get(api + "/studies?state=queued&limit=10")
    check(len(doc["studies"]) == 3, "state=queued: 3")
    st, doc = d.get(api + "/studies?state=scored")
    check(doc["studies"] == [] and doc["done"], "state=scored: none")
    st, doc = d.get(api + "/studies/%s/results" % uids[1])
    check(st == 200 and doc["results"] == [], "no results without a model")
    st, hdr, body = d.http("GET", "/metrics")
    text = body.decode()
    check(st == 200 and hdr.get("Content-Type", "").startswith("text/plain"), "metrics: text/plain")
    for line in ("# TYPE mamad_instances_received_total counter", "mamad_instances_received_total 12",
                 'mamad_studies{state="queued"} 3', "mamad_queue_depth 3", "mamad_model_loaded 0",
                 'mamad_scoring_latency_seconds_bucket{le="+Inf"} 0'):
        check(line in text.splitlines(), "metrics line: " + line)
    d.stop()
    # no tokens: REST stays off and says so; DICOM keeps working
    d2 = Daemon(work + "/d2", tokens=False)
    daemons.append(d2.start())
    check("REST is DISABLED" in d2.log() and d2.rest_port == 0, "no token configured: REST disabled, logged")
    check(d2.echo(), "DICOM works without REST")


def changes(work, daemons):
    d = Daemon(work + "/d")
    daemons.append(d.start())
    dirs = phantom(work + "/ph", "--count", "2", "--seed", "17")
    for sd in dirs:
        d.store(sorted(glob.glob(os.path.join(sd, "*.dcm"))))
    api = "/api/v1/changes"
    st, doc = d.get(api + "?since=0&limit=1000")
    last = doc["last"]
    seqs = [c["seq"] for c in doc["changes"]]
    check(st == 200 and doc["done"] and seqs == list(range(1, last + 1)), "all %d changes in order" % last)
    check(last == 6, "2 studies x (NewStudy, StudyComplete, StudyQueued)")
    st, doc = d.get(api + "?since=%d" % last)
    check(doc["changes"] == [] and doc["done"] and doc["last"] == last, "empty page: done, last = current max")
    st, doc = d.get(api + "?since=%d&limit=3" % (last - 3))
    check(len(doc["changes"]) == 3 and doc["done"] and doc["last"] == last, "exact boundary: done")
    st, doc = d.get(api + "?since=%d&limit=3" % (last - 4))
    check(len(doc["changes"]) == 3 and not doc["done"] and doc["last"] == last - 1, "one more row: not done")
    walked, since = [], 0
    while True:
        st, doc = d.get(api + "?since=%d&limit=1" % since)
        check(len(doc["changes"]) == 1, "limit=1 page")
        walked.append(doc["changes"][0]["seq"])
        since = doc["last"]
        if doc["done"]:
            break
    check(walked == list(range(1, last + 1)), "limit=1 walk visits every seq once")
    st, doc = d.get(api + "?since=9223372036854775807")
    check(st == 200 and doc["changes"] == [] and doc["last"] == last, "since = 2^63-1 (64-bit) is an empty page")
    st, doc = d.get(api + "?since=9223372036854775808")
    check(st == 400, "since beyond 64 bits -> 400")


def shutdown(work, daemons):
    d = Daemon(work + "/d")
    daemons.append(d.start())
    phantom(work + "/ph", "--count", "5", "--seed", "18")
    files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
    box = {}
    t = threading.Thread(target=lambda: box.update(r=d.store(files)))
    t.start()
    while d.metric("mamad_instances_received_total") < 2:
        time.sleep(0.02)
    rc = d.stop(signal.SIGTERM)
    t.join()
    check(rc == 0, "SIGTERM during a transfer: exit status 0")
    check("mamad stopped" in d.log(), "logged a clean stop")
    n_acked = acked(box["r"][1])
    n_rows = index_rows(d.index, "SELECT COUNT(*) FROM instances")[0][0]
    check(n_acked >= 2 and n_rows >= n_acked, "every acknowledged instance indexed (%d acked, %d rows)" % (n_acked, n_rows))
    check(not os.path.exists(d.index + "-wal") or os.path.getsize(d.index + "-wal") == 0,
          "the index closed cleanly (WAL checkpointed)")
    check(index_rows(d.index, "PRAGMA integrity_check") == [("ok",)], "integrity ok")


def scoring(work, daemons):
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    d = Daemon(work + "/d", {"scoring.model": model, "scoring.workers": "1"})
    daemons.append(d.start())
    st, h = d.get("/api/v1/health", token=None)
    check(h["model"]["loaded"] is True, "health: model loaded (%s)" % h["model"]["message"])
    check(h["model"]["untrained"] is True, "health: an untrained (model-init) model says so")
    st, doc = d.get("/api/v1/models")
    check(len(doc["models"]) == 1 and doc["models"][0]["id"] == h["model"]["message"], "models lists it")
    sd = phantom(work + "/ph", "--count", "1", "--seed", "19", "--extra", "retake")[0]
    retake = glob.glob(os.path.join(sd, "*_RETAKE.dcm"))[0]
    std = [os.path.join(sd, v + ".dcm") for v in VIEWS.values()]
    uid = study_uid(std[0])
    rc, out = d.store(std)
    check(acked(out) == 4, "four views stored")
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=30)
    res = doc["latest_result"]
    check(res and res["version"] == 1 and res["model_id"] == h["model"]["message"], "scored: result version 1")
    check(len(res["result"]["views"]) == 4 and res["result"]["complete"] is True, "the result covers 4 views")
    # a late image (a retake) re-queues the study and writes version 2
    rc, out = d.store([retake])
    check(acked(out) == 1, "late retake stored")
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored" and s["result_version"] == 2, timeout=30)
    ids = [v["id"] for v in doc["latest_result"]["result"]["views"]]
    check(sop_uid(retake) in ids, "version 2 scored the retake")
    st, _, body = d.http("POST", "/api/v1/studies/%s/rescore" % uid, token=ADMIN_TOKEN)
    check(st == 202, "admin rescore accepted")
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored" and s["result_version"] == 3, timeout=30)
    st, doc = d.get("/api/v1/studies/%s/results" % uid)
    check([r["version"] for r in doc["results"]] == [1, 2, 3], "three result versions")
    st, _, body = d.http("POST", "/api/v1/models/reload", token=ADMIN_TOKEN)
    check(st == 200, "model reload")
    check(d.metric('mamad_scoring_total{outcome="ok"}') == 3, "metrics: 3 scorings")
    check(d.stop() == 0, "clean stop with a model")
    # a model file that is not one: mamad refuses to start and says why
    bad = os.path.join(work, "bad.safetensors")
    with open(bad, "wb") as f:
        f.write(b"not a model")
    r = subprocess.run([MAMAD, "--set", "scoring.model=" + bad,
                        "--set", "storage.dir=" + work + "/d3", "--set", "storage.index=" + work + "/d3.sqlite",
                        "--set", "dicom.port=0", "--set", "rest.enabled=false"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0 and "bad.safetensors" in r.stderr, "bad model file: refuses to start, names the file")


def disk_full(work, daemons):
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], capture_output=True).returncode != 0:
        print("SKIP: cannot mount a tmpfs here (needs root); the SCP's own disk_full test injects ENOSPC")
        sys.exit(77)
    try:
        d = Daemon(work + "/d", {"storage.dir": mnt + "/storage", "storage.index": mnt + "/index.sqlite"})
        daemons.append(d.start())
        phantom(work + "/ph", "--count", "4", "--seed", "20")
        files = sorted(glob.glob(os.path.join(work, "ph", "*", "*.dcm")))
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        with open(os.path.join(mnt, "ballast"), "wb") as f:
            f.write(b"\0" * max(0, free - 200 * 1024))
        rc, out = d.store(files, halt=False)
        n_resp = len(__import__("re").findall(r"Received Store Response", out))
        n_ok = acked(out)
        check(n_resp == len(files), "one association answered all %d stores (%d responses):\n%s" %
              (len(files), n_resp, "\n".join(out.splitlines()[-8:])))
        check(0 < n_ok < len(files), "disk full: %d stored, %d refused" % (n_ok, len(files) - n_ok))
        check("Out of Resources" in out or "OutOfResources" in out or "A700" in out.upper(),
              "refusals are 0xA700 (out of resources)")
        _, page = d.get("/api/v1/studies?limit=100")  # (sqlite3 cannot open a WAL index on a full disk)
        rows = set()
        for s in page["studies"]:
            rows |= {(s["uid"], i["sop_uid"]) for i in d.study(s["uid"])["instance_list"]}
        on_disk = {(p.split("/")[-2], p.split("/")[-1][:-4])
                   for p in glob.glob(os.path.join(mnt, "storage", "*", "*", "*.dcm"))}
        check(rows == on_disk, "every file on disk is indexed and every row has its file (%d)" % len(rows))
        check(not _files_under(os.path.join(mnt, "storage", "tmp")), "no temporary file left")
        os.unlink(os.path.join(mnt, "ballast"))
        rc, out = d.store(files)
        check(acked(out) == len(files), "space freed: the same daemon stores everything")
        check(index_rows(d.index, "SELECT COUNT(*) FROM instances")[0][0] == len(files), "all indexed once")
        check(d.stop() == 0, "clean stop")
        check(index_rows(d.index, "PRAGMA integrity_check") == [("ok",)], "integrity ok")
    finally:
        for dd in daemons:
            if dd.proc:
                dd.proc.kill()
                dd.proc.wait()
        subprocess.run(["umount", mnt], capture_output=True)


def series_laterality(work, daemons):
    """An image without ImageLaterality (0020,0062) but with the series Laterality
    (0020,0060) belongs to that breast: on ingest (grouping through mamad), when mamad
    scores it, and in `mama score` (the CLI's view loading). Catches a reader that drops
    the (0020,0060) fallback on either path, or hard-codes one side."""
    if not shutil.which("dcmodify"):
        print("SKIP: dcmodify not installed (apt install dcmtk)")
        sys.exit(77)
    sd = phantom(work + "/ph", "--count", "1", "--seed", "23")[0]
    files = {k: os.path.join(sd, v + ".dcm") for k, v in VIEWS.items()}
    # both right views and one left view lose ImageLaterality and name their side only
    # through the series Laterality; L-MLO keeps ImageLaterality as the control
    for key in ("R-CC", "R-MLO", "L-CC"):
        r = subprocess.run(["dcmodify", "-nb", "-e", "(0020,0062)", "-i", "(0020,0060)=" + key[0],
                            files[key]], capture_output=True, text=True)
        check(r.returncode == 0, "dcmodify %s: %s" % (key, r.stderr.strip()))
        check(tag(files[key], "0020,0062") == "" and tag(files[key], "0020,0060") == key[0],
              "%s has no ImageLaterality, Laterality %s" % (key, key[0]))
    by_sop = {sop_uid(p): k for k, p in files.items()}
    # CLI path: `mama score` reads the side through the same tag reader
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    r = subprocess.run([MAMA, "score", "--model", model, "--threads", "1", "--study", sd],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "mama score on the study (%s)" % r.stderr.strip())
    cli = json.loads(r.stdout)
    got = sorted((by_sop[v["id"]], v["laterality"] + "-" + v["view"]) for v in cli["views"])
    check(got == sorted((k, k) for k in files), "mama score: every view on its side (%s)" % got)
    check(cli["breasts"]["R"]["n_views"] == 2 and cli["breasts"]["L"]["n_views"] == 2
          and "U" not in cli["breasts"], "mama score: two views per breast, none unknown")
    # ingest path: mamad groups the study into its four views and scores it
    d = Daemon(work + "/d", {"scoring.model": model, "scoring.workers": "1"})
    daemons.append(d.start())
    uid = study_uid(files["L-CC"])
    rc, out = d.store(list(files.values()))
    check(rc == 0 and acked(out) == 4, "storescu: four Success responses")
    doc, _ = d.wait_study(uid, lambda s: s["complete"], timeout=5)
    check(doc["missing_views"] == [], "complete: no missing views")
    for key, path in files.items():
        check(doc["views"][key] and doc["views"][key]["sop_uid"] == sop_uid(path),
              "view %s is %s" % (key, os.path.basename(path)))
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=30)
    views = doc["latest_result"]["result"]["views"]
    got = sorted((by_sop[v["id"]], v["laterality"] + "-" + v["view"]) for v in views)
    check(got == sorted((k, k) for k in files), "mamad scored every view on its side (%s)" % got)
    check(d.stop() == 0, "SIGTERM: clean exit")


def _to_secondary_capture(path, drop, add):
    """Rewrites an MG phantom file as a Secondary Capture image the way digitised film
    data sets carry it: SC SOP class, none of ImageLaterality / ViewPosition / View Code
    Sequence, then `drop` further tags removed and `add` ("tag=value") set."""
    sc = "1.2.840.10008.5.1.4.1.1.7"
    args = ["dcmodify", "-nb", "-imt", "-m", "(0008,0016)=" + sc,  # the meta header follows
            "-e", "(0020,0062)", "-e", "(0018,5101)", "-e", "(0054,0220)"]
    for t in drop:
        args += ["-e", t]
    for a in add:
        args += ["-i", a]
    r = subprocess.run(args + [path], capture_output=True, text=True)
    check(r.returncode == 0, "dcmodify %s: %s" % (os.path.basename(path), r.stderr.strip()))


def secondary_capture(work, daemons):
    """A Secondary Capture MG study (as CBIS-DDSM ships): refused by default with the
    reason in the log (not only "peer aborted"), accepted, grouped into its four views and
    scored with dicom.accept_secondary_capture; laterality and view come from
    PatientOrientation (R-CC, R-MLO), the series Laterality (L-CC) or SeriesDescription
    (L-MLO, no PatientOrientation), each source logged; an SC image that is not a
    mammogram (Modality OT, no BodyPartExamined) fails its C-STORE with the reason."""
    for tool in ("dcmodify", "dcmdump"):
        if not shutil.which(tool):
            print("SKIP: %s not installed (apt install dcmtk)" % tool)
            sys.exit(77)
    sd = phantom(work + "/ph", "--count", "1", "--seed", "29")[0]
    files = {k: os.path.join(sd, v + ".dcm") for k, v in VIEWS.items()}
    _to_secondary_capture(files["R-CC"], [], [])
    _to_secondary_capture(files["R-MLO"], [], [])
    _to_secondary_capture(files["L-CC"], [], ["(0020,0060)=L"])
    _to_secondary_capture(files["L-MLO"], ["(0020,0020)"], ["(0008,103e)=LEFT MLO"])
    other = os.path.join(work, "other.dcm")
    shutil.copy(os.path.join(sd, "LCC.dcm"), other)
    r = subprocess.run(["dcmodify", "-nb", "-i", "(0008,0060)=OT", "-e", "(0018,0015)", "-i",
                        "(0008,0018)=2.25.1234567", other],
                       capture_output=True, text=True)
    check(r.returncode == 0, "dcmodify other: %s" % r.stderr.strip())
    for k, p in files.items():
        dump = subprocess.run(["dcmdump", "-q", "-Un", p], capture_output=True, text=True).stdout
        check("(0002,0002) UI [1.2.840.10008.5.1.4.1.1.7]" in dump and "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]"
              in dump and "(0020,0062)" not in dump and "(0018,5101)" not in dump,
              "%s is Secondary Capture without ImageLaterality" % k)
    uid = study_uid(files["L-CC"])
    # default: refused, and the log says why
    d = Daemon(work + "/d0")
    daemons.append(d.start())
    rc, out = d.store(list(files.values()))
    check(acked(out) == 0, "default: nothing stored")
    log = d.log_since_start()
    check("refused: Secondary Capture is not accepted" in log and "dicom.accept_secondary_capture" in log,
          "default: the refused presentation context and its reason are logged")
    status, doc = d.get("/api/v1/studies/" + uid)
    check(status == 404, "default: no study (%s)" % status)
    check(d.stop() == 0, "clean stop")
    # with the option: stored, grouped, scored
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    d = Daemon(work + "/d1", {"dicom.accept_secondary_capture": "true", "scoring.model": model,
                              "scoring.workers": "1"})
    daemons.append(d.start())
    rc, out = d.store(list(files.values()))
    check(acked(out) == 4, "with the option: four Success responses")
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=30)
    for key, path in files.items():
        check(doc["views"][key] and doc["views"][key]["sop_uid"] == sop_uid(path),
              "view %s is %s" % (key, os.path.basename(path)))
    views = doc["latest_result"]["result"]["views"]
    by_sop = {sop_uid(p): k for k, p in files.items()}
    got = sorted((by_sop[v["id"]], v["laterality"] + "-" + v["view"]) for v in views)
    check(got == sorted((k, k) for k in files), "scored every view on its side (%s)" % got)
    log = d.log_since_start()
    for key, src in (("R-CC", "PatientOrientation"), ("L-CC", "Laterality"), ("L-MLO", "SeriesDescription")):
        line = "Secondary Capture %s: laterality '%s' from %s" % (sop_uid(files[key]), key[0], src)
        check(line in log, "logged: %s" % line)
    check("view 'MLO' from SeriesDescription" in log and "view 'CC' from PatientOrientation" in log,
          "the view sources are logged")
    rc, out = d.store([other])
    check(acked(out) == 0, "a Secondary Capture that is not a mammogram is refused")
    check("Secondary Capture accepted only for mammograms: Modality 'OT'" in d.log_since_start(),
          "its C-STORE failure is logged with the reason")
    check(d.stop() == 0, "SIGTERM: clean exit")


def scored_incomplete(work, daemons):
    """A timed-out study scored with a view missing: its reason still says why after
    scoring, the log has a line for the scored study, a view whose crop is bad (a window
    that leaves nothing visible) is named in the result's warnings while the good views
    are not, and probabilities carry 6 significant digits (as `mama score` prints)."""
    if not shutil.which("dcmodify"):
        print("SKIP: dcmodify not installed (apt install dcmtk)")
        sys.exit(77)
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    sd = phantom(work + "/ph", "--count", "1", "--seed", "31", "--views", "LCC,RCC,LMLO")[0]
    files = sorted(glob.glob(os.path.join(sd, "*.dcm")))
    dark = os.path.join(sd, "LCC.dcm")
    r = subprocess.run(["dcmodify", "-nb", "-m", "(0028,1050)=60000", "-m", "(0028,1051)=10", dark],
                       capture_output=True, text=True)
    check(r.returncode == 0, "dcmodify: %s" % r.stderr.strip())
    d = Daemon(work + "/d", {"grouper.stable_age": "1s", "scoring.model": model, "scoring.workers": "1"})
    daemons.append(d.start())
    uid = study_uid(files[0])
    rc, out = d.store(files)
    check(acked(out) == 3, "three views stored")
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=30)
    check("views missing: R-MLO" in doc["reason"], "scored study keeps its reason: '%s'" % doc["reason"])
    check(("study %s scored" % uid) in d.log_since_start(), "a log line for the scored study")
    warnings = doc["latest_result"]["result"]["warnings"]
    dark_sop = sop_uid(dark)
    crop = [w for w in warnings if "crop:" in w]
    check(len(crop) == 1 and dark_sop in crop[0] and "no breast tissue" in crop[0],
          "one crop warning, for the dark view: %s" % crop)
    probs = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "probs":
                    probs.extend(v.values())
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc["latest_result"]["result"])
    check(probs and all(float("%.6g" % p) == p for p in probs),
          "probabilities with 6 significant digits (%d, e.g. %r)" % (len(probs), probs[:2]))
    # mama score says the same of the same files
    r = subprocess.run([MAMA, "score", "--model", model, "--threads", "1", "--study", sd],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "mama score (%s)" % r.stderr.strip())
    cli = json.loads(r.stdout)
    check([w for w in cli["warnings"] if "crop:" in w and dark_sop in w], "mama score names the dark view too")
    check(d.stop() == 0, "SIGTERM: clean exit")


def _dciodvfy_errors(path):
    r = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
    return [l for l in (r.stdout + r.stderr).splitlines() if l.startswith("Error")]


def import_images(work, daemons):
    """`mama import images` (a CSV naming a PNG, a TIFF, a JPEG and a DICOM file) and
    `mama import cbis` (the CBIS-DDSM folder layout, Secondary Capture files, an ROI folder
    to skip): every output passes dciodvfy without an error, and mamad groups each study
    into its four views on the right sides and scores it."""
    for tool in ("dcmj2pnm", "dcmodify", "dciodvfy"):
        if not shutil.which(tool):
            print("SKIP: %s not installed (scripts/install-deps.sh)" % tool)
            sys.exit(77)
    sd = phantom(work + "/ph", "--count", "2", "--seed", "37")
    src = os.path.join(work, "src")
    os.makedirs(src)
    conv = [("LCC", "a.png", "--write-png"), ("RCC", "b.tif", "--write-tiff"), ("LMLO", "c.jpg", "--write-jpeg")]
    for view, name, opt in conv:
        r = subprocess.run(["dcmj2pnm", opt, os.path.join(sd[0], view + ".dcm"), os.path.join(src, name)],
                           capture_output=True, text=True)
        check(r.returncode == 0, "dcmj2pnm %s: %s" % (name, r.stderr.strip()))
    shutil.copy(os.path.join(sd[0], "RMLO.dcm"), os.path.join(src, "d.dcm"))
    with open(os.path.join(src, "list.csv"), "w") as f:
        f.write("path,patient_id,study,laterality,view,study_date\n"
                "a.png,PAT1,S1,L,CC,20240101\nb.tif,PAT1,S1,RIGHT,CC,20240101\n"
                "c.jpg,PAT1,S1,left,MLO,20240101\nd.dcm,PAT1,S1,R,MLO,20240101\n")
    out = os.path.join(work, "out")
    r = subprocess.run([MAMA, "import", "images", out, "--csv", os.path.join(src, "list.csv")],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "mama import images (%s)" % (r.stdout + r.stderr).strip())
    made = sorted(glob.glob(os.path.join(out, "PAT1_S1", "*.dcm")))
    check([os.path.basename(p) for p in made] == ["LCC.dcm", "LMLO.dcm", "RCC.dcm", "RMLO.dcm"],
          "four views written (%s)" % made)
    # CBIS-DDSM layout: SC files in <type>_P_<n>_<SIDE>_<VIEW>/<date>/<series>/1-1.dcm
    cbis = os.path.join(work, "CBIS-DDSM")
    names = {"LCC": "LEFT_CC", "RCC": "RIGHT_CC", "LMLO": "LEFT_MLO", "RMLO": "RIGHT_MLO"}
    for view, side in names.items():
        series = os.path.join(cbis, "Mass-Training_P_00042_" + side, "07-20-2016-DDSM-1", "1.000-full mammogram-1")
        os.makedirs(series)
        dst = os.path.join(series, "1-1.dcm")
        shutil.copy(os.path.join(sd[1], view + ".dcm"), dst)
        _to_secondary_capture(dst, ["(0020,0020)", "(0020,0060)"], [])
    roi = os.path.join(cbis, "Mass-Training_P_00042_LEFT_CC_1", "x", "y")
    os.makedirs(roi)
    shutil.copy(os.path.join(sd[1], "LCC.dcm"), os.path.join(roi, "1-1.dcm"))
    out2 = os.path.join(work, "out2")
    r = subprocess.run([MAMA, "import", "cbis", cbis, out2], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and "4 full-field images; 1 other folders" in r.stdout,
          "mama import cbis (%s)" % (r.stdout + r.stderr).strip())
    made2 = sorted(glob.glob(os.path.join(out2, "*", "*.dcm")))
    check(len(made2) == 4 and all("P_00042_Mass-Training_P_00042" in p for p in made2), "four CBIS views (%s)" % made2)
    for p in made + made2:
        errs = _dciodvfy_errors(p)
        check(not errs, "dciodvfy %s: no error (%s)" % (os.path.relpath(p, work), errs[:3]))
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    d = Daemon(work + "/d", {"scoring.model": model, "scoring.workers": "1"})
    daemons.append(d.start())
    for files in (made, made2):
        uid = study_uid(files[0])
        rc, out_ = d.store(files)
        check(acked(out_) == 4, "storescu: four Success responses")
        doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=30)
        want = {os.path.basename(p)[:-4]: sop_uid(p) for p in files}
        for key, view in VIEWS.items():
            check(doc["views"][key] and doc["views"][key]["sop_uid"] == want[view], "%s is %s.dcm" % (key, view))
    check(d.stop() == 0, "SIGTERM: clean exit")


def send_compressed(work, daemons):
    """The send lines of README.md and docs/operations.md on compressed files: dcmsend
    sends a mix of JPEG 2000, JPEG lossless, JPEG-LS, RLE and uncompressed files in one
    association (it proposes each file's own transfer syntax); storescu needs the option
    of the syntax (-xv for JPEG 2000 lossless) and fails without it (it proposes only
    uncompressed syntaxes and cannot send a JPEG 2000 file over them)."""
    if not shutil.which("dcmsend"):
        print("SKIP: dcmsend not installed (apt install dcmtk)")
        sys.exit(77)
    d = Daemon(work + "/d")
    daemons.append(d.start())
    files = []
    for i, ts in enumerate(["j2k", "jpegll", "jpegls", "rle", "explicit"]):
        sd = phantom(work + "/ph%d" % i, "--count", "1", "--seed", str(40 + i), "--tsyntax", ts)[0]
        files.append(sorted(glob.glob(os.path.join(sd, "*.dcm"))))
    r = subprocess.run(["dcmsend", "-v", "-aet", SENDER, "-aec", AE, "127.0.0.1", str(d.dicom_port)]
                       + [f for group in files[1:] for f in group], capture_output=True, text=True, timeout=120)
    n_ok = (r.stdout + r.stderr).count("Received C-STORE Response (Success)")
    check(r.returncode == 0 and n_ok == 16, "dcmsend: 16 compressed and uncompressed files stored (%d)" % n_ok)
    rc, out = d.store(files[0])
    check(acked(out) == 0, "storescu without -xv: the JPEG 2000 files are not sent")
    r = subprocess.run(["storescu", "-v", "-xv", "-aet", SENDER, "-aec", AE, "127.0.0.1", str(d.dicom_port)]
                       + files[0], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and acked(r.stdout + r.stderr) == 4, "storescu -xv: the JPEG 2000 files stored")
    n = index_rows(d.index, "SELECT COUNT(*) FROM instances")[0][0]
    check(n == 20, "20 instances indexed (%d)" % n)
    check(d.stop() == 0, "SIGTERM: clean exit")


CASES = {f.__name__: f for f in (disk_full, scoring, four_view, grouping, timeout, parallel, kill9, bad_input, rest, changes, shutdown, series_laterality,
                                            secondary_capture, scored_incomplete, import_images,
                                            send_compressed)}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: service_test.py {%s}" % "|".join(CASES))
        sys.exit(2)
    sys.exit(run_case(CASES, sys.argv[1]))
