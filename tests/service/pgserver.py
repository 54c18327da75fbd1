"""pgserver.py: a real PostgreSQL server for the tests, started in a temporary folder.

initdb + pg_ctl from Debian's postgresql (no system service is used): trust
authentication for user `test`, loopback only on a free port, the socket in the data
folder, fsync off (the tests check mamad's behaviour, not the disk's). initdb refuses to
run as root, so as root the folder is handed to the `postgres` user and the server runs
as that user through runuser.

As a module: PgServer(dir).start(), .create_db(name) -> URI, .sql(uri, text), .restart(),
.stop(). As a command: `pgserver.py [--uri-env NAME] -- CMD ARGS...` runs CMD with NAME
(default MAMA_TEST_PG_URI) set to a fresh database's URI, then stops the server; exit
status 77 (skip) when PostgreSQL is not installed.
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def pg_bindir():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    p = shutil.which("initdb")
    return os.path.dirname(p) if p else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class PgServer:
    def __init__(self, work):
        self.bindir = pg_bindir()
        if not self.bindir:
            raise RuntimeError("PostgreSQL is not installed (apt install postgresql)")
        self.work = work
        self.data = os.path.join(work, "pgdata")
        self.port = free_port()
        self.root = os.geteuid() == 0
        self.logfile = os.path.join(work, "postgres.log")

    def _run(self, args, check=True, **kw):
        if self.root:
            args = ["runuser", "-u", "postgres", "--"] + args
        r = subprocess.run(args, capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (args[0] if not self.root else args[4],
                               r.returncode, r.stdout, r.stderr))
        return r

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        if self.root:
            shutil.chown(self.work, "postgres")
            os.chmod(self.work, 0o755)
        if not os.path.exists(self.data):
            self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-A", "trust", "-U", "test",
                       "--no-sync", "-E", "UTF8"])
        self._ctl("start")
        return self

    def _ctl(self, action):
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200" % (
            self.port, self.data)
        args = [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-t", "60", "-l", self.logfile]
        if action in ("start", "restart"):
            args += ["-o", opts]
        if action in ("stop", "restart"):
            args += ["-m", "fast"]
        self._run(args + [action])

    def restart(self):
        self._ctl("restart")

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-m", "immediate", "stop"],
                      check=False)

    def uri(self, db="postgres"):
        return "postgresql://test@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, uri, sql):
        """Runs sql; returns rows as lists of strings (fields split on the unit separator)."""
        r = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f",
                            "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr)
        return [line.split("\x1f") for line in r.stdout.splitlines() if line != ""]

    def create_db(self, name):
        self.psql(self.uri(), "CREATE DATABASE %s" % name)
        return self.uri(name)


def main(argv):
    env_name = "MAMA_TEST_PG_URI"
    if len(argv) > 2 and argv[1] == "--uri-env":
        env_name = argv[2]
        argv = argv[2:]
    if "--" not in argv:
        print("usage: pgserver.py [--uri-env NAME] -- CMD ARGS...", file=sys.stderr)
        return 2
    cmd = argv[argv.index("--") + 1:]
    if not pg_bindir():
        print("SKIP: PostgreSQL is not installed (apt install postgresql)")
        return 77
    work = tempfile.mkdtemp(prefix="mamad_pg_")
    server = PgServer(work)
    try:
        server.start()
        env = dict(os.environ)
        env[env_name] = server.create_db("mamad_test")
        return subprocess.run(cmd, env=env).returncode
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
