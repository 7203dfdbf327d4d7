"""A throwaway PostgreSQL server for tests that need a real database.

The ``postgres`` fixture (session-scoped) runs ``initdb`` and ``pg_ctl`` from the PostgreSQL
server package (Debian's ``postgresql``, which ``./scripts/test`` installs) into a fresh
temporary directory, listening on 127.0.0.1 on a free port with trust authentication, creates
the database ``shop`` and yields a ``PostgresServer`` (host, port, dbname, user, dsn). At the
end of the session it stops the server (``pg_ctl stop -m fast``) and deletes the directory.

PostgreSQL refuses to run as root, so when the tests run as root (CI) the server runs as the
``postgres`` system user the package creates (else ``nobody``), through ``runuser``. Without
the server binaries the tests that use the fixture are skipped with a pointer to
``./scripts/test``.

Import it where needed: ``from postgres import postgres  # noqa: F401``.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

DBNAME = "shop"
SUPERUSER = "postgres"  # the database role; trust auth, so no password
START_TIMEOUT_S = 120.0  # a loaded machine starts a cluster slowly; readiness is polled, so this is only a ceiling


def _fatal(log_tail: str) -> bool:
    """A FATAL line that means the server will not come up. "the database system is starting
    up" is the answer to our own readiness probe while a loaded machine is still starting the
    server, not a failure: it only means "ask again"."""
    return any("FATAL:" in line and "the database system is starting up" not in line for line in log_tail.splitlines())


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    dbname: str
    user: str
    data_dir: Path
    started_in_s: float  # initdb + start + createdb, for whoever wonders why the suite is slow

    @property
    def dsn(self) -> str:
        """A libpq keyword/value DSN, understood by psycopg2 and psycopg 3 alike."""
        return "host=%s port=%d dbname=%s user=%s" % (self.host, self.port, self.dbname, self.user)

    @property
    def url(self) -> str:
        return "postgresql://%s@%s:%d/%s" % (self.user, self.host, self.port, self.dbname)


def server_bin_dir() -> Optional[Path]:
    """The directory holding ``initdb`` and ``pg_ctl``: Debian's newest
    ``/usr/lib/postgresql/<version>/bin``, else whatever is on PATH (other systems)."""
    def version_key(path: str) -> tuple:
        return tuple(int(part) for part in re.findall(r"\d+", Path(path).parent.name)) or (0,)

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK) and os.access(os.path.join(candidate, "pg_ctl"), os.X_OK):
            return Path(candidate)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).parent == Path(pg_ctl).parent:
        return Path(initdb).parent
    return None


def _server_user() -> Optional[pwd.struct_passwd]:
    """Who runs the server: ourselves, or when we are root an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and there is neither a 'postgres' nor a 'nobody' user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Cluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _server_user()
        self.base = Path(tempfile.mkdtemp(prefix="ai-tests-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "server.log"
        self.port = 0
        self.sockets.mkdir()
        if self.user is not None:
            for path in (self.base, self.sockets):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        # Only PG* settings we pass ourselves: a developer's PGHOST/PGPORT/PGDATABASE must not
        # point the set-up at another server.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(LC_ALL="C", LANG="C")

    def _as_server_user(self, args: List[str]) -> List[str]:
        if self.user is None:
            return args
        return ["runuser", "-u", self.user.pw_name, "--"] + args

    def _run(self, args: List[str], as_server_user: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = self._as_server_user(args) if as_server_user else args
        # cwd: the server user may not be allowed into the current directory.
        out = subprocess.run(cmd, cwd=str(self.base), env=self.env, capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s%s" % (
                " ".join(cmd), out.returncode, out.stdout, out.stderr, self._log_tail()))
        return out

    def _log_tail(self) -> str:
        try:
            return "\n--- %s ---\n%s" % (self.log, self.log.read_text(errors="replace")[-4000:])
        except OSError:
            return ""

    def initdb(self) -> None:
        self._run([
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
            "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions",
        ])
        # Loopback TCP only, sockets in our directory, and nothing a test database needs to
        # survive a crash. Appended as root or as the owner: the file keeps its owner.
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(
                "\n# tests/support/postgres.py\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = '%s'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "shared_buffers = 16MB\nmax_connections = 30\n" % str(self.sockets).replace("'", "''")
            )

    def start(self) -> None:
        """Start on a free port, retrying with another port if a concurrent process took it."""
        for attempt in range(3):
            self.port = _free_port()
            # -W: pg_ctl returns at once; readiness is polled below.
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                       "-o", "-p %d" % self.port, "-W", "start"])
            if self._wait_ready():
                return
            if attempt < 2 and "could not bind" in self._log_tail():
                self.stop()
                continue
            raise RuntimeError("PostgreSQL did not accept connections on 127.0.0.1:%d within %.0fs%s"
                               % (self.port, START_TIMEOUT_S, self._log_tail()))

    def _postmaster_pid(self) -> Optional[int]:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _wait_ready(self) -> bool:
        """Poll ``pg_isready`` until the server accepts connections; False when it died."""
        deadline = time.monotonic() + START_TIMEOUT_S
        seen_pid = False
        while time.monotonic() < deadline:
            probe = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
                 "-d", "postgres", "-U", SUPERUSER, "-t", "1"],
                env=self.env, capture_output=True, timeout=10,
            )
            if probe.returncode == 0:
                return True
            pid = self._postmaster_pid()
            seen_pid = seen_pid or pid is not None
            if seen_pid and pid is None:
                return False  # the postmaster wrote its pid file and removed it again: it exited
            if _fatal(self._log_tail()):
                return False  # e.g. the port was taken: it exits before or right after the pid file
            time.sleep(0.05)
        return False

    def create_database(self) -> None:
        self._run([str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", SUPERUSER, DBNAME], as_server_user=False)

    def stop(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            return
        try:
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "stop", "-m", "fast", "-w", "-t", "30"])
        except (RuntimeError, subprocess.TimeoutExpired):
            pid = self._postmaster_pid()  # the server we started: immediate shutdown
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGQUIT)
                except ProcessLookupError:
                    pass

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: run ./scripts/test, "
                    "which installs Debian's postgresql package")
    started = time.monotonic()
    cluster = _Cluster(bin_dir)
    try:
        cluster.initdb()
        cluster.start()
        cluster.create_database()
        yield PostgresServer(
            host="127.0.0.1", port=cluster.port, dbname=DBNAME, user=SUPERUSER,
            data_dir=cluster.data, started_in_s=round(time.monotonic() - started, 2),
        )
    finally:
        cluster.stop()
        cluster.remove()
