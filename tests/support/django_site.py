"""Serve tests/django/testsite with a real server, drive it, stop it gracefully.

Shared by the Django adapter tests: one server run per scenario, then assertions on what the
emulator received (a graceful stop flushes every worker, so nothing is still in flight).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

SITE = Path(__file__).resolve().parents[1] / "django" / "testsite"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_env(db: Path, connection_string: Optional[str], storage: Path, **ai: Any) -> Dict[str, str]:
    """The server's environment; ``ai`` adds APPLICATION_INSIGHTS keys (``TRUSTED_PROXIES=1``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "TESTSITE_"))}
    # Each run has its own offline storage: nothing left over from another test is drained here.
    ai.setdefault("STORAGE_DIRECTORY", str(storage))
    env.update(TESTSITE_DB=str(db), TESTSITE_AI=json.dumps(ai), PYTHONPATH=str(SITE),
               DJANGO_SETTINGS_MODULE="testsite.settings")
    if connection_string:
        env["TESTSITE_CONNECTION_STRING"] = connection_string
    return env


def migrate(env: Dict[str, str]) -> None:
    quiet = dict(env)
    quiet.pop("TESTSITE_CONNECTION_STRING", None)  # the migration's own SQL is not the test's
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=SITE, env=quiet, check=True,
                   capture_output=True, timeout=120)


def request(port: int, method: str, path: str, headers: Optional[Dict[str, str]] = None,
            body: Optional[bytes] = None) -> Tuple[int, Dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}, Connection="close"))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_until_serving(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("server exited:\n" + _output(proc))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not listen on %d" % port)


def start(cmd: List[str], env: Dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=SITE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> str:
    """Graceful stop of the whole server (master and workers); returns what it printed."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError("server did not stop on signal %d:\n%s" % (sig, out))
    return out


def _output(proc: subprocess.Popen) -> str:
    try:
        return proc.communicate(timeout=5)[0]
    except Exception:
        return ""
