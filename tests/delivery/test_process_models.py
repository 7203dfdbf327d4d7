"""Telemetry from every worker of real pre-forking servers arrives (gunicorn --preload,
uvicorn --workers), including what was recorded just before a graceful stop."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ai_core.emulator import Emulator

APPS = Path(__file__).resolve().parents[1] / "support" / "apps"
BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path):
    # A new connection per request so the kernel spreads them over the workers.
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Connection": "close"})
    return int(urllib.request.urlopen(req, timeout=10).read())


def warm_up_until_both_workers_serve(port, proc, timeout=30):
    """Returns how many warm-up requests were made (each is telemetry too)."""
    deadline = time.time() + timeout
    pids, made = set(), 0
    while time.time() < deadline and len(pids) < 2:
        if proc.poll() is not None:
            raise AssertionError("server exited: " + proc.stderr.read())
        try:
            with ThreadPoolExecutor(4) as pool:
                pids.update(pool.map(lambda i: get(port, "/warmup"), range(4)))
            made += 4
        except OSError:
            time.sleep(0.2)
    assert len(pids) == 2, "both workers should be serving"
    return made


def hit(port, n):
    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(lambda i: get(port, "/hello/%d" % i), range(n)))


def hello_paths(emu):
    """The /hello/<n> requests that arrived (warm-up requests are left out: a warm-up round that
    fails half way still sends the requests it made, so they cannot be counted exactly)."""
    paths = (urllib.parse.urlsplit(i["envelope"]["data"]["baseData"]["url"]).path
             for i in emu.items(type="request", limit=10000))
    return sorted(p for p in paths if p.startswith("/hello/"))


def served_pids(emu):
    pids = set()
    for item in emu.items(type="trace", limit=10000):
        m = re.match(r"served by pid (\d+)", item["envelope"]["data"]["baseData"]["message"])
        if m:
            pids.add(int(m.group(1)))
    return pids


def run_server(cmd, emu, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env.update(APPLICATIONINSIGHTS_CONNECTION_STRING=emu.connection_string, STORAGE_DIR=str(tmp_path / "s"),
               PYTHONPATH=str(APPS))
    return subprocess.Popen(cmd, cwd=str(APPS), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_every_worker_delivers(cmd, tmp_path):
    """Serve traffic from two workers, stop gracefully, and count what arrived."""
    port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else int(cmd[cmd.index("-b") + 1].rsplit(":", 1)[1])
    with Emulator(port=0, db=":memory:") as emu:
        server = run_server(cmd, emu, tmp_path)
        try:
            warm_up_until_both_workers_serve(port, server)
            hit(port, 60)
            # Graceful stop right after the traffic: the last batch must not be lost.
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=60)
            # Every worker has exited, after its last batch was answered (the emulator stores a
            # batch before it answers): what is in the emulator now is all there will be, so
            # the count is final without a pause for late duplicates.
            expected = sorted("/hello/%d" % i for i in range(60))
            assert hello_paths(emu) == expected  # none lost, none twice
            assert len(served_pids(emu)) == 2, "telemetry from both workers"
        finally:
            server.kill()


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "no-preload"])
def test_gunicorn_workers_all_deliver_telemetry(tmp_path, preload):
    cmd = [str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:%d" % free_port(), "wsgi_app:application"]
    if preload:
        cmd.insert(1, "--preload")
    assert_every_worker_delivers(cmd, tmp_path)


def test_uvicorn_workers_all_deliver_telemetry(tmp_path):
    cmd = [str(BIN / "uvicorn"), "--workers", "2", "--host", "127.0.0.1", "--port", str(free_port()), "asgi_app:application"]
    assert_every_worker_delivers(cmd, tmp_path)
