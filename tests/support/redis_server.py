"""A throwaway Redis server for tests that need a real one (Celery broker, Redis dependencies).

The ``redis_server`` fixture (session-scoped) runs Debian's ``redis-server`` (which
``./scripts/test`` installs) in the foreground as a child process, in a fresh temporary
directory, listening on 127.0.0.1 on a free port with persistence off, and yields a
``RedisServer`` (host, port, url). Readiness is a ``PING`` answered ``+PONG``, polled; at the
end of the session the server is asked to ``SHUTDOWN NOSAVE``, killed if it does not exit,
and its directory deleted. Without the binary the tests that use it are skipped with a
pointer to ``./scripts/test``.

Import it where needed: ``from redis_server import redis_server  # noqa: F401``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

START_TIMEOUT_S = 60.0  # a ceiling: readiness is polled


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    directory: Path

    def url(self, db: int = 0) -> str:
        return "redis://%s:%d/%d" % (self.host, self.port, db)

    @property
    def target(self) -> str:
        """What a Redis dependency's target is: ``host:port``."""
        return "%s:%d" % (self.host, self.port)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(host: str, port: int, *words: str, timeout: float = 2.0) -> Optional[bytes]:
    """Send one inline command, return the first reply line (None when unreachable)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall((" ".join(words) + "\r\n").encode())
            return conn.recv(256).split(b"\r\n", 1)[0]
    except OSError:
        return None


class _Server:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="ai-tests-redis-"))
        self.log = self.dir / "redis.log"
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None

    def _log_tail(self) -> str:
        try:
            return "\n--- %s ---\n%s" % (self.log, self.log.read_text(errors="replace")[-3000:])
        except OSError:
            return ""

    def start(self) -> None:
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                 "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.log),
                 "--protected-mode", "yes"],
                cwd=str(self.dir), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _command("127.0.0.1", self.port, "PING") == b"+PONG":
                    return
                time.sleep(0.02)
            exited = self.proc.poll() is not None
            self.stop()
            if not (exited and attempt < 2):
                break
        raise RuntimeError("redis-server did not answer PING on 127.0.0.1:%d within %.0fs%s"
                           % (self.port, START_TIMEOUT_S, self._log_tail()))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        _command("127.0.0.1", self.port, "SHUTDOWN", "NOSAVE")
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_server_binary() -> Optional[str]:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("redis-server not found: run ./scripts/test, which installs Debian's redis-server package")
    server = _Server(binary)
    try:
        server.start()
        yield RedisServer(host="127.0.0.1", port=server.port, directory=server.dir)
    finally:
        server.stop()
        server.remove()
