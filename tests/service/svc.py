"""svc.py: harness of the service integration tests (python3 standard library only).

Runs the real mamad binary on 127.0.0.1 with ephemeral ports (dicom.port = rest.port = 0,
read back from its log), a real SQLite index in a temporary directory, DCMTK's storescu
and echoscu, and real HTTP through urllib. Studies come from `mama phantom`.

MAMA_TEST_INDEX=postgresql runs the same cases on the PostgreSQL backend: a real server
(pgserver.py) is started in the case's temporary folder, each Daemon gets a database of
its own (or a shared one: Daemon(..., pg_db=NAME) for several nodes on one index), and
index_rows queries it through psql.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BUILD = os.environ.get("MAMA_BUILD_ROOT", os.path.join(os.path.dirname(__file__), "../../build"))
MAMAD = os.path.join(BUILD, "daemon", "mamad")
MAMA = os.path.join(BUILD, "tools", "mama")
RAWSCU = os.path.join(BUILD, "tests", "service", "scp_rawscu")
HARNESS = os.path.join(BUILD, "tests", "service", "scp_harness")
READ_TOKEN = "read-token-" + "r" * 24
ADMIN_TOKEN = "admin-token-" + "a" * 24
AE = "MAMAD"
SENDER = "DEMO"


class Fail(Exception):
    pass


PG_MODE = os.environ.get("MAMA_TEST_INDEX", "sqlite") == "postgresql"
_pg = {"server": None, "dbs": set()}


def pg_server(work):
    """The case's PostgreSQL server (started on first use; run_case stops it)."""
    if _pg["server"] is None:
        from pgserver import PgServer
        os.chmod(work, 0o711)   # the server runs as postgres when the tests run as root
        _pg["server"] = PgServer(os.path.join(work, "pg")).start()
    return _pg["server"]


def pg_database(work, name):
    """URI of database name on the case's server, created on first use."""
    server = pg_server(work)
    if name not in _pg["dbs"]:
        server.create_db(name)
        _pg["dbs"].add(name)
    return server.uri(name)


def check(cond, what):
    if not cond:
        raise Fail(what)
    print("ok:", what, flush=True)


def need_tools():
    for t in ("storescu", "echoscu", "dcmdump"):
        if not shutil.which(t):
            print("SKIP: %s not installed (apt install dcmtk)" % t)
            sys.exit(77)
    for b in (MAMAD, MAMA):
        if not os.path.exists(b):
            print("SKIP: %s not built" % b)
            sys.exit(77)


class Daemon:
    """One mamad process with its own storage, index, token file and config."""

    def __init__(self, work, settings=None, tokens=True, pg_db=None):
        os.makedirs(work, exist_ok=True)
        self.work = work
        self.storage = os.path.join(work, "storage")
        self.index = os.path.join(work, "index.sqlite")
        self.log_path = os.path.join(work, "mamad.log")
        self.proc = None
        self.dicom_port = self.rest_port = None
        tok = os.path.join(work, "tokens")
        if tokens:
            with open(tok, "w") as f:
                f.write("# test tokens\nread %s\nadmin %s\n" % (READ_TOKEN, ADMIN_TOKEN))
            os.chmod(tok, 0o600)
        self.settings = {
            "dicom.port": "0",
            "dicom.ae_title": AE,
            "dicom.allow": "%s@127.0.0.1 %s@localhost" % (SENDER, SENDER),
            "storage.dir": self.storage,
            "storage.index": self.index,
            "rest.port": "0",
            "rest.token_file": tok if tokens else "",
            "rest.token_env": "",
            "grouper.stable_age": "30s",
            "grouper.tick": "50ms",
            "log.access_file": os.path.join(work, "access.log"),
        }
        self.settings.update(settings or {})
        if PG_MODE or pg_db:
            # One database per daemon (its work folder's name) unless nodes share one.
            name = pg_db or re.sub(r"[^a-z0-9_]", "_", os.path.basename(os.path.normpath(work)).lower())
            self.settings["storage.index"] = pg_database(os.path.dirname(os.path.normpath(work)), "db_" + name)
        self.storage = self.settings["storage.dir"]
        self.index = self.settings["storage.index"]

    def argv(self, extra=None):
        """The mamad command line with this daemon's settings. mamad refuses root without
        --user or --allow-root (issue 15); tests run as root here, so --allow-root unless
        extra (e.g. ["--user", "nobody"]) is given."""
        args = [MAMAD] + (extra if extra is not None else (["--allow-root"] if os.geteuid() == 0 else []))
        for k, v in self.settings.items():
            args += ["--set", "%s=%s" % (k, v)]
        return args

    def start(self, extra=None):
        args = list(getattr(self, "wrap", None) or []) + self.argv(extra)
        self.logf = open(self.log_path, "ab")
        self.log_offset = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            text = self.log_since_start()
            m = re.search(r"ready: DICOM \S+ port (\d+), REST port (\d+)", text)
            if m:
                self.dicom_port, self.rest_port = int(m.group(1)), int(m.group(2))
                if self.index.startswith("postgresql://") and "PostgreSQL index open" not in text:
                    raise Fail("mamad did not open the PostgreSQL index:\n" + text)
                return self
            if self.proc.poll() is not None:
                raise Fail("mamad exited at start (%s):\n%s" % (self.proc.returncode, text))
            time.sleep(0.05)
        raise Fail("mamad did not become ready:\n" + self.log_since_start())

    def log_since_start(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc:
            return 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise Fail("mamad did not stop within %ss" % timeout)
        self.proc = None
        self.logf.close()
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.logf.close()

    # ---- DICOM
    def echo(self, calling=SENDER):
        r = subprocess.run(["echoscu", "-aet", calling, "-aec", AE, "127.0.0.1", str(self.dicom_port)],
                           capture_output=True, text=True, timeout=30)
        return r.returncode == 0

    def store(self, files, calling=SENDER, timeout=120, halt=True):
        """storescu over one association; returns (exit status, its -v output)."""
        r = subprocess.run(["storescu", "-v"] + ([] if halt else ["-nh"]) + ["-aet", calling, "-aec", AE, "127.0.0.1",
                            str(self.dicom_port)] + list(files),
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout + r.stderr

    # ---- HTTP
    def http(self, method, path, token=READ_TOKEN, body=None, headers=None):
        url = "http://127.0.0.1:%d%s" % (self.rest_port, path)
        req = urllib.request.Request(url, method=method, data=body)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                data = resp.read()
                return resp.status, dict(resp.headers), data
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path, token=READ_TOKEN):
        status, headers, data = self.http("GET", path, token)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data.decode("utf-8", "replace")
        return status, doc

    def study(self, uid):
        status, doc = self.get("/api/v1/studies/" + uid)
        return doc if status == 200 else None

    def wait_study(self, uid, pred, timeout=10.0, period=0.02):
        deadline = time.time() + timeout
        doc = None
        while time.time() < deadline:
            doc = self.study(uid)
            if doc is not None and pred(doc):
                return doc, time.time()
            time.sleep(period)
        raise Fail("study %s never reached the expected state; last: %s" %
                   (uid, json.dumps(doc, indent=1)[:3000]))

    def metric(self, name):
        status, _, data = self.http("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise Fail("metric %s not found" % name)


def count_closed(socks, wait):
    """How many of socks the server closes (EOF or reset) within wait seconds in all."""
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    n, deadline = 0, time.time() + wait
    while n < len(socks) and time.time() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.time())):
            sel.unregister(key.fileobj)
            try:
                eof = key.fileobj.recv(1) == b""
            except OSError:
                eof = True
            n += eof
    return n


def acked(output):
    """Number of C-STORE responses with Success in storescu -v output."""
    return len(re.findall(r"Received Store Response \(Success\)", output))


def phantom(out, *args):
    r = subprocess.run([MAMA, "phantom", "--out", out, "--size", "128x104", "--quiet"] + list(args),
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise Fail("mama phantom failed: " + r.stdout + r.stderr)
    return sorted(d for d in glob.glob(os.path.join(out, "*")) if os.path.isdir(d))


def tag(path, tagspec):
    r = subprocess.run(["dcmdump", "-q", "-s", "+P", tagspec, path], capture_output=True, text=True)
    m = re.search(r"\[(.*?)\]", r.stdout)
    return m.group(1) if m else ""


def sop_uid(path):
    return tag(path, "0008,0018")


def study_uid(path):
    return tag(path, "0020,000d")


def dataset_bytes(path):
    """The dataset after the File Meta Information (mamad may rewrite the meta header)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
        raise Fail("%s: no standard meta header" % path)
    gl = int.from_bytes(data[140:144], "little")
    return data[144 + gl:]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def _sql_literal(v):
    if isinstance(v, (int, float)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def index_rows(index, sql, args=()):
    if index.startswith("postgresql://"):
        if sql.strip().upper() == "PRAGMA INTEGRITY_CHECK":
            # PostgreSQL checks its own pages; the index answering is what is checked here.
            _pg["server"].psql(index, "SELECT 1")
            return [("ok",)]
        parts = sql.split("?")
        if len(parts) - 1 != len(args):
            raise Fail("index_rows: %d placeholders, %d args" % (len(parts) - 1, len(args)))
        text = parts[0] + "".join(_sql_literal(a) + p for a, p in zip(args, parts[1:]))
        rows = _pg["server"].psql(index, text)
        return [tuple(int(f) if re.fullmatch(r"-?\d+", f) else f for f in r) for r in rows]
    if not os.path.exists(index):
        raise Fail("no index at %s" % index)
    con = sqlite3.connect(index, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def run_case(cases, name):
    need_tools()
    work = tempfile.mkdtemp(prefix="mamad_%s_" % name)
    daemons = []
    try:
        cases[name](work, daemons)
        print("PASS", name)
        return 0
    except Exception as e:  # a harness error is a failure too: show the daemon's log
        print("FAIL:", type(e).__name__ if not isinstance(e, Fail) else "", e)
        for d in daemons:
            print("--- mamad log (tail)")
            print("\n".join(d.log().splitlines()[-60:]))
        return 1
    finally:
        for d in daemons:
            if d.proc:
                d.proc.kill()
                d.proc.wait()
        if _pg["server"] is not None:
            _pg["server"].stop()
            _pg["server"] = None
            _pg["dbs"].clear()
        shutil.rmtree(work, ignore_errors=True)
