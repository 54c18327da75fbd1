#!/usr/bin/env python3
"""results_test.py CASE: the results going back to the PACS (issue 16), end to end: the
real mamad with a micro model, DCMTK's storescu as the modality and DCMTK's storescp
started here as "the PACS"; DCMTK's dsrdump and dicom3tools' dciodvfy check what arrives
(readers independent of mamad's writer).

Cases:
  pacs       four views in -> SR + overview delivered; dciodvfy without errors; dsrdump shows
             TID 4000, the image library and the per-breast values of REST's result;
             REST /sr, /overview (DICOM and PNG); a rescore sends v2 naming v1 as predecessor
  pacs_down  the PACS is down: the outbox keeps the objects and retries; kill -9 of mamad
             between tries; after restart and once storescp runs, each object arrives exactly
             once, and nothing is sent again after it was acknowledged
"""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svc import (ADMIN_TOKEN, MAMA, Daemon, Fail, acked, check, index_rows, phantom, run_case, sop_uid,  # noqa: E402
                 study_uid)

VIEWS = {"L-CC": "LCC", "L-MLO": "LMLO", "R-CC": "RCC", "R-MLO": "RMLO"}
PACS_AE = "PACS"
# |a - b| <= ATOL + RTOL |b|: the SR writes the probability with 9 significant digits
ATOL, RTOL = 1e-9, 1e-8
DENSITY = {"A": "129716005", "B": "129717001", "C": "129718006", "D": "129719003"}
BIRADS = {"0": "397138000", "1": "397140005", "2": "397141009", "3": "397143007", "4": "397144001",
          "5": "397145000", "6": "MA.II.A.5.6"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Pacs:
    """DCMTK's storescp as the PACS; its -v log tells which SOP instances it stored."""

    def __init__(self, work, port):
        self.dir = os.path.join(work, "pacs")
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.log_path = os.path.join(work, "storescp.log")
        self.proc = None

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["storescp", "-v", "-aet", PACS_AE, "-od", self.dir, "-uf", str(self.port)],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise Fail("storescp did not listen")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.logf.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return "storescp:\n" + f.read().decode("utf-8", "replace")

    def received(self):
        """SOP Instance UIDs of the C-STORE requests, in order (with repeats)."""
        with open(self.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return re.findall(r"storing DICOM file: \S*/[A-Za-z]+\.([0-9.]+)", text)

    def files(self):
        return sorted(glob.glob(os.path.join(self.dir, "*")))


def micro_model(work):
    model = os.path.join(work, "micro.safetensors")
    r = subprocess.run([MAMA, "model-init", "--out", model, "--config", "micro"], capture_output=True, text=True)
    check(r.returncode == 0, "a micro model file (mama model-init)")
    return model


def send_study(d, work, seed):
    sd = phantom(work + "/ph%d" % seed, "--count", "1", "--seed", str(seed))[0]
    files = [os.path.join(sd, v + ".dcm") for v in VIEWS.values()]
    rc, out = d.store(files)
    check(rc == 0 and acked(out) == 4, "storescu: four views stored")
    return study_uid(files[0]), {sop_uid(f): k for f, k in zip(files, VIEWS)}


def wait_outbox(d, uid, pred, what, timeout=30):
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        doc = d.study(uid)
        if doc and pred(doc.get("outbox", [])):
            return doc
        time.sleep(0.05)
    raise Fail("%s; outbox: %s" % (what, doc and doc.get("outbox")))


def dciodvfy_errors(path):
    r = subprocess.run(["dciodvfy", path], capture_output=True, text=True)
    return [line for line in (r.stdout + r.stderr).splitlines() if line.startswith("Error")]


def close(a, b):
    return abs(a - b) <= ATOL + RTOL * abs(b)


def sr_items(dump):
    """(laterality code, composition code, p(cancer), BI-RADS code) per impression of a dsrdump."""
    out = []
    for block in dump.split('"Individual Impression/Recommendation")')[1:]:
        lat = re.search(r'"Laterality"\)=\((\d+),SCT', block).group(1)
        comp = re.search(r'"Breast composition"\)=\((\d+),SCT', block)
        num = re.search(r'"Probability of cancer"\)="([^"]+)"', block)
        bi = re.search(r'"Assessment Category"\)=\(([^,]+),', block)
        out.append((lat, comp and comp.group(1), num and float(num.group(1)), bi and bi.group(1)))
    return out


def check_sr_against_rest(sr_path, result, sops):
    dump = subprocess.run(["dsrdump", "+Pt", "+Pl", sr_path], capture_output=True, text=True).stdout
    check("Mammography CAD SR Document" in dump and "# TID 4000 (DCMR)" in dump,
          "dsrdump: a Mammography CAD SR with template TID 4000 (DCMR) on the root")
    lib = dump.split('"Image Library")')[1].split('"CAD Processing and Findings Summary"')[0]
    images = re.findall(r'IMAGE:=\(\w+ image,\)>\s*<has acq context CODE:\(,,"Image Laterality"\)=\((\d+),SCT,"(\w+) breast"\)>'
                        r'\s*<has acq context CODE:\(,,"Image View"\)=\((\d+),SCT', lib)
    check(sorted((lat[0], code) for _, lat, code in images) ==
          sorted([("L", "399162004"), ("L", "399368009"), ("R", "399162004"), ("R", "399368009")]),
          "dsrdump: the image library has L/R CC/MLO (%s)" % images)
    refs = subprocess.run(["dcmdump", "+P", "0008,1155", sr_path], capture_output=True, text=True).stdout
    for uid in sops:
        check(uid in refs, "the SR references view %s (%s)" % (sops[uid], uid))
    items = {lat: rest for lat, *rest in sr_items(dump)}
    for side, code in (("L", "80248007"), ("R", "73056007")):
        tasks = result["breasts"][side]["tasks"]
        comp, p, bi = items[code]
        want_p = tasks["malignancy"]["probs"]["cancer"]
        check(p is not None and close(p, want_p), "SR %s probability of cancer %.9g == REST %.9g" % (side, p, want_p))
        check(comp == DENSITY[tasks["density"]["prediction"]],
              "SR %s composition %s is REST's density %s" % (side, comp, tasks["density"]["prediction"]))
        check(bi == BIRADS[tasks["birads"]["prediction"]],
              "SR %s BI-RADS %s is REST's %s" % (side, bi, tasks["birads"]["prediction"]))
    check("untrained demo model" in dump, "the SR marks the model as an untrained demo")
    return dump


def pacs(work, daemons):
    port = free_port()
    p = Pacs(work, port).start()
    daemons.append(p)
    d = Daemon(work + "/d", {"scoring.model": micro_model(work), "scoring.workers": "1",
                             "forward.destinations": "%s@127.0.0.1:%d" % (PACS_AE, port),
                             "forward.retry": "200ms"})
    daemons.append(d.start())
    uid, sops = send_study(d, work, 31)
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored", timeout=60)
    result = doc["latest_result"]["result"]
    doc = wait_outbox(d, uid, lambda ob: len(ob) == 2 and all(o["state"] == "sent" for o in ob),
                      "SR and overview delivered")
    check(sorted(o["object"] for o in doc["outbox"]) == ["overview", "sr"], "outbox: sr + overview, sent")
    files = p.files()
    check(len(files) == 2, "the PACS stored two objects (%s)" % [os.path.basename(f) for f in files])
    sr = [f for f in files if os.path.basename(f).startswith("SR")]
    sc = [f for f in files if f not in sr]
    check(len(sr) == 1 and len(sc) == 1, "one SR and one other (the overview)")
    for f in files:
        errs = dciodvfy_errors(f)
        check(not errs, "dciodvfy: no errors in %s %s" % (os.path.basename(f), errs[:3]))
    check(study_uid(sr[0]) == uid and study_uid(sc[0]) == uid, "both are filed into the scored study")
    check_sr_against_rest(sr[0], result, sops)
    # REST serves the same objects
    st, h, body = d.http("GET", "/api/v1/studies/%s/sr" % uid)
    check(st == 200 and h.get("Content-Type") == "application/dicom" and body[128:132] == b"DICM",
          "GET /sr: the DICOM file")
    srpath = os.path.join(work, "rest_sr.dcm")
    with open(srpath, "wb") as f:
        f.write(body)
    check(sop_uid(srpath) == sop_uid(sr[0]), "REST's SR is the instance the PACS has")
    st, h, body = d.http("GET", "/api/v1/studies/%s/overview" % uid)
    check(st == 200 and body[128:132] == b"DICM", "GET /overview: DICOM by default")
    st, h, body = d.http("GET", "/api/v1/studies/%s/overview" % uid, headers={"Accept": "image/png"})
    check(st == 200 and h.get("Content-Type") == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n",
          "GET /overview with Accept: image/png: a PNG")
    st, h, body = d.http("GET", "/api/v1/studies/%s/thumbnail?view=L-CC" % uid)
    check(st == 200 and body[:4] == b"\x89PNG", "GET /thumbnail?view=L-CC: a PNG")
    st, _, _ = d.http("GET", "/api/v1/studies/%s/sr" % uid, token=None)
    check(st == 401, "GET /sr without a token: 401")
    st, _, _ = d.http("GET", "/api/v1/studies/1.2.3.4/sr")
    check(st == 404, "GET /sr of an unknown study: 404")
    check(d.metric('mamad_outbox{state="sent"}') == 2, "metrics: 2 sent")
    # a rescore sends version 2, naming version 1 as its predecessor
    v1 = sop_uid(sr[0])
    st, _, _ = d.http("POST", "/api/v1/studies/%s/rescore" % uid, token=ADMIN_TOKEN)
    check(st == 202, "rescore accepted")
    wait_outbox(d, uid, lambda ob: len(ob) == 4 and all(o["state"] == "sent" for o in ob), "v2 delivered")
    sr2 = [f for f in p.files() if os.path.basename(f).startswith("SR") and f != sr[0]]
    check(len(sr2) == 1, "the PACS has a second SR")
    pred = subprocess.run(["dcmdump", "+P", "0040,a360", "+P", "0008,1155", sr2[0]], capture_output=True,
                          text=True).stdout
    check("PredecessorDocumentsSequence" in pred and v1 in pred, "SR v2 lists SR v1 %s as its predecessor" % v1)
    check(not dciodvfy_errors(sr2[0]), "dciodvfy: no errors in SR v2")
    check(d.stop() == 0, "clean stop")


def pacs_down(work, daemons):
    port = free_port()
    settings = {"scoring.model": micro_model(work), "scoring.workers": "1",
                "forward.destinations": "%s@127.0.0.1:%d/sr+overview" % (PACS_AE, port),
                "forward.retry": "300ms", "forward.max_attempts": "1000", "forward.timeout": "5"}
    d = Daemon(work + "/d", settings)
    daemons.append(d.start())
    uid, _ = send_study(d, work, 32)
    d.wait_study(uid, lambda s: s["state"] == "scored", timeout=60)
    doc = wait_outbox(d, uid, lambda ob: len(ob) == 2 and all(o["attempts"] >= 2 for o in ob),
                      "two failed attempts each while the PACS is down")
    check(all(o["state"] == "pending" and o["last_error"] for o in doc["outbox"]),
          "pending, with the error kept (%s)" % doc["outbox"][0]["last_error"][:80])
    check(d.metric('mamad_outbox{state="pending"}') == 2, "metrics: 2 pending")
    d.kill9()  # between two tries
    check(True, "kill -9 of mamad between tries")
    p = Pacs(work, port).start()
    daemons.append(p)
    d2 = Daemon(work + "/d", settings)
    daemons.append(d2.start())
    doc = wait_outbox(d2, uid, lambda ob: len(ob) == 2 and all(o["state"] == "sent" for o in ob),
                      "delivered after the restart once the PACS runs")
    got = p.received()
    check(len(got) == 2 and len(set(got)) == 2, "the PACS received each object once (%d requests)" % len(got))
    # nothing that was acknowledged goes again: another restart and several retry periods
    check(d2.stop() == 0, "clean stop")
    d3 = Daemon(work + "/d", settings)
    daemons.append(d3.start())
    time.sleep(1.5)
    check(p.received() == got, "after a further restart nothing acknowledged is sent again")
    check(d3.stop() == 0, "clean stop")


def send_views(d, work, seed, names):
    sd = phantom(work + "/ph%d" % seed, "--count", "1", "--seed", str(seed))[0]
    files = [os.path.join(sd, VIEWS[k] + ".dcm") for k in names]
    rc, out = d.store(files)
    check(rc == 0 and acked(out) == len(files), "storescu: %d view(s) stored" % len(files))
    return study_uid(files[0])


def gone(d, uid):
    st, _ = d.get("/api/v1/studies/" + uid)
    return st == 404


def files_of(storage, uid):
    return [p for p in glob.glob(os.path.join(storage, "**", "*"), recursive=True) if uid in p and os.path.isfile(p)]


def consistent(d):
    """Every indexed file exists, and every stored file is indexed (instances or result objects)."""
    rows = index_rows(d.index, "SELECT path FROM instances UNION ALL SELECT path FROM result_objects")
    indexed = {r[0] for r in rows}
    on_disk = {p for p in glob.glob(os.path.join(d.storage, "**", "*"), recursive=True)
               if os.path.isfile(p) and "/tmp/" not in p}
    return sorted(p for p in indexed if not os.path.exists(p)), sorted(on_disk - indexed)


def retention(work, daemons):
    model = micro_model(work)
    port = free_port()
    p = Pacs(work, port).start()
    daemons.append(p)
    d = Daemon(work + "/a", {"scoring.model": model, "scoring.workers": "1",
                             "forward.destinations": "%s@127.0.0.1:%d" % (PACS_AE, port), "forward.retry": "200ms",
                             "storage.retention": "2s", "storage.retention_check": "100ms"})
    daemons.append(d.start())
    a = send_views(d, work, 41, list(VIEWS))
    d.wait_study(a, lambda s: s["state"] == "scored", timeout=60)
    wait_outbox(d, a, lambda ob: len(ob) == 2 and all(o["state"] == "sent" for o in ob), "A delivered")
    b = send_views(d, work, 42, ["L-CC", "L-MLO"])      # stays receiving (stable_age 30 s)
    p.stop()                                            # the PACS goes away: C stays undelivered
    c = send_views(d, work, 43, list(VIEWS))
    doc, t_c = d.wait_study(c, lambda s: s["state"] == "scored", timeout=60)
    deadline = time.time() + 30
    while not gone(d, a) and time.time() < deadline:
        time.sleep(0.1)
    check(gone(d, a), "A (scored, delivered) is deleted after storage.retention")
    check(files_of(d.storage, a) == [], "none of A's files is left")
    _, ch = d.get("/api/v1/changes?since=0&limit=1000")
    check(any(x["type"] == "StudyDeleted" and x["study"] == a for x in ch["changes"]), "a StudyDeleted change for A")
    while time.time() < t_c + 3.0:                      # C and B are now older than the retention
        time.sleep(0.1)
    sb, sc = d.study(b), d.study(c)
    check(sb and sb["state"] == "receiving", "B (still receiving) is kept")
    check(sc and sc["state"] == "scored" and any(o["state"] == "pending" for o in sc["outbox"]),
          "C (scored, results undelivered) is kept")
    st, _, _ = d.http("DELETE", "/api/v1/studies/" + c)
    check(st == 403, "DELETE with a read token: 403")
    st, _, _ = d.http("DELETE", "/api/v1/studies/" + b, token=ADMIN_TOKEN)
    check(st == 409, "DELETE of a receiving study: 409")
    st, _, _ = d.http("DELETE", "/api/v1/studies/" + c, token=ADMIN_TOKEN)
    check(st == 200 and gone(d, c) and files_of(d.storage, c) == [], "admin DELETE of C: rows and files gone")
    check(consistent(d) == ([], []), "index and files agree")
    check(d.stop() == 0, "clean stop")

    # max_size: the oldest finished study goes first, a receiving one never
    e = Daemon(work + "/m", {"scoring.model": model, "scoring.workers": "1", "storage.retention_check": "100ms"})
    daemons.append(e.start())
    s1 = send_views(e, work, 44, list(VIEWS))
    e.wait_study(s1, lambda s: s["state"] == "scored", timeout=60)
    one = sum(r[0] for r in index_rows(e.index, "SELECT size FROM instances UNION ALL SELECT size FROM result_objects"))
    check(e.stop() == 0, "one study takes %d bytes" % one)
    e.settings["storage.max_size"] = str(int(one * 1.5))
    e.start()
    s2 = send_views(e, work, 45, list(VIEWS))
    e.wait_study(s2, lambda s: s["state"] == "scored", timeout=60)
    deadline = time.time() + 30
    while not gone(e, s1) and time.time() < deadline:
        time.sleep(0.1)
    check(gone(e, s1) and e.study(s2) is not None, "over max_size the older study is deleted, the newer kept")
    s3 = send_views(e, work, 46, ["R-CC"])
    check(e.stop() == 0, "clean stop")
    e.settings["storage.max_size"] = "1"
    e.start()
    deadline = time.time() + 30
    while not gone(e, s2) and time.time() < deadline:
        time.sleep(0.1)
    check(gone(e, s2), "max_size 1 byte: the finished study goes")
    check(e.study(s3) is not None and e.study(s3)["state"] == "receiving", "the receiving study never does")
    check(consistent(e) == ([], []), "index and files agree")
    check(e.stop() == 0, "clean stop")

    # kill -9 in the middle of a deletion (after the files, before the rows)
    k = Daemon(work + "/k", {"scoring.model": model, "scoring.workers": "1"})
    daemons.append(k.start())
    s4 = send_views(k, work, 47, list(VIEWS))
    k.wait_study(s4, lambda s: s["state"] == "scored", timeout=60)
    check(k.stop() == 0, "clean stop")
    os.environ["MAMAD_TEST_CRASH_AT"] = "delete_after_files"
    try:
        k.start()
    finally:
        del os.environ["MAMAD_TEST_CRASH_AT"]
    try:
        k.http("DELETE", "/api/v1/studies/" + s4, token=ADMIN_TOKEN)
    except Exception:  # the daemon dies before it answers
        pass
    rc = k.proc.wait(20)
    k.proc = None
    k.logf.close()
    check(rc == -9, "mamad was killed (SIGKILL) between removing the files and the rows")
    missing, _ = consistent(k)
    check(missing != [] and files_of(k.storage, s4) == [], "half done: rows of %d removed files remain" % len(missing))
    k.start()
    check(gone(k, s4), "after restart the deletion is finished: the study is gone")
    check(index_rows(k.index, "SELECT COUNT(*) FROM instances WHERE study_uid = ?", (s4,)) == [(0,)] and
          index_rows(k.index, "SELECT COUNT(*) FROM deletions") == [(0,)], "no row of it is left")
    check(consistent(k) == ([], []), "no row without file, no file without row")
    check(k.stop() == 0, "clean stop")


def crash_publish(work, daemons):
    """kill -9 between a committed result and its objects: the restart scores the study
    again and the new version is built and delivered; nothing half-made is sent."""
    port = free_port()
    p = Pacs(work, port).start()
    daemons.append(p)
    settings = {"scoring.model": micro_model(work), "scoring.workers": "1",
                "forward.destinations": "%s@127.0.0.1:%d" % (PACS_AE, port), "forward.retry": "200ms"}
    d = Daemon(work + "/d", settings)
    os.environ["MAMAD_TEST_CRASH_AT"] = "publish_before_record"
    try:
        daemons.append(d.start())
    finally:
        del os.environ["MAMAD_TEST_CRASH_AT"]
    uid = send_views(d, work, 61, list(VIEWS))
    rc = d.proc.wait(60)
    d.proc = None
    d.logf.close()
    check(rc == -9, "mamad killed between the result and its objects")
    check(index_rows(d.index, "SELECT version FROM results WHERE study_uid = ?", (uid,)) == [(1,)] and
          index_rows(d.index, "SELECT COUNT(*) FROM result_objects") == [(0,)] and
          index_rows(d.index, "SELECT COUNT(*) FROM outbox") == [(0,)],
          "result v1 committed, no object and no outbox row recorded")
    d.start()
    doc, _ = d.wait_study(uid, lambda s: s["state"] == "scored" and s["result_version"] == 2, timeout=60)
    check("restart" in doc["reason"] or doc["attempts"] == 2, "the restart scored the study again (v2)")
    wait_outbox(d, uid, lambda ob: len(ob) == 2 and all(o["state"] == "sent" and o["version"] == 2 for o in ob),
                "v2's SR and overview delivered")
    st, _, _ = d.http("GET", "/api/v1/studies/%s/sr?version=1" % uid)
    check(st == 404, "v1 has no SR (it was never built)")
    check(len(p.received()) == 2, "the PACS got exactly v2's two objects")
    check(d.stop() == 0, "clean stop")


CASES = {f.__name__: f for f in (pacs, pacs_down, retention, crash_publish)}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        print("usage: results_test.py {%s}" % "|".join(CASES))
        sys.exit(2)
    if not shutil.which("storescp") or not shutil.which("dsrdump") or not shutil.which("dciodvfy"):
        print("SKIP: storescp/dsrdump (dcmtk) or dciodvfy (dicom3tools) not installed")
        sys.exit(77)
    sys.exit(run_case(CASES, sys.argv[1]))
