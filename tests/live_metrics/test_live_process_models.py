"""Live Metrics under real pre-forking servers: every worker streams on its own (own stream id,
its pid in the instance name), after a ``--preload`` fork too, while the master that serves
nothing pings nobody; and under sampling the request rate is the true one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Set

import pytest

from ai_core.emulator import Emulator
from fake_live_service import Call, FakeLiveService

APPS = Path(__file__).resolve().parent / "apps"
BIN = Path(sys.executable).parent
KEY = "00000000-0000-0000-0000-0000000000aa"
REQUEST_DURATION = "\\ApplicationInsights\\Request Duration"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> int:
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers={"Connection": "close"})
    try:
        return int(urllib.request.urlopen(req, timeout=10).read())
    except urllib.error.HTTPError as err:
        return int(err.read())


def start(cmd: List[str], cs: str, **env: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    full.update(APPLICATIONINSIGHTS_CONNECTION_STRING=cs, **env)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(cmd, cwd=str(APPS), env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def serve_until_pids(port: int, proc: subprocess.Popen, count: int, timeout: float = 60) -> Set[int]:
    deadline = time.time() + timeout
    pids: Set[int] = set()
    while time.time() < deadline and len(pids) < count:
        if proc.poll() is not None:
            raise AssertionError("server exited: " + proc.stderr.read())
        try:
            with ThreadPoolExecutor(4) as pool:
                pids.update(pool.map(lambda i: get(port, "/warmup"), range(4)))
        except OSError:
            time.sleep(0.2)
    assert len(pids) == count, "all workers should be serving"
    return pids


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return err


SERVERS = {
    "gunicorn-preload": lambda port: [str(BIN / "gunicorn"), "--preload", "-w", "2", "-b", "127.0.0.1:%d" % port,
                                      "live_wsgi:application"],
    "uvicorn-workers": lambda port: [str(BIN / "uvicorn"), "--workers", "2", "--host", "127.0.0.1", "--port", str(port),
                                     "live_asgi:application"],
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_every_worker_streams_with_its_own_stream_id(server: str) -> None:
    port = free_port()
    with Emulator(port=0, db=":memory:") as emu, FakeLiveService() as live:
        live.subscribed = True
        cs = live.connection_string(KEY, ingestion=emu.url)
        proc = start(SERVERS[server](port), cs)
        try:
            pids = serve_until_pids(port, proc, 2)

            def both_workers_posted_requests(calls: List[Call]) -> bool:
                with ThreadPoolExecutor(4) as pool:  # keep traffic flowing while we wait
                    list(pool.map(lambda i: get(port, "/hello"), range(8)))
                posting = {c.pid for c in calls if c.operation == "post" and (c.metric(REQUEST_DURATION) or 0) > 0}
                return pids <= posting

            calls = live.wait_for(both_workers_posted_requests, timeout=90)
        finally:
            err = stop(proc)
        streams = {c.pid: set() for c in calls}
        for c in calls:
            streams[c.pid].add(c.point["StreamId"])
        assert set(streams) == pids, "only the workers stream: the master (pid %d) pings nobody; %s" % (
            proc.pid, err[-2000:])
        assert all(len(ids) == 1 for ids in streams.values())
        assert len({next(iter(ids)) for ids in streams.values()}) == 2  # two stream ids, one per worker


def test_under_sampling_the_request_count_is_the_true_one() -> None:
    port = free_port()
    sent = 1500
    with Emulator(port=0, db=":memory:") as emu, FakeLiveService() as live:
        live.subscribed = True
        cs = live.connection_string(KEY, ingestion=emu.url)
        proc = start([str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:%d" % port, "live_wsgi:application"], cs,
                     LIVE_SAMPLING="0.1")
        try:
            serve_until_pids(port, proc, 1)

            def posting(calls: List[Call]) -> bool:
                # the stream starts with the first sampled item: keep some traffic flowing until then
                with ThreadPoolExecutor(4) as pool:
                    list(pool.map(lambda i: get(port, "/warmup"), range(8)))
                return any(c.operation == "post" for c in calls)

            live.wait_for(posting, timeout=90)
            first = len(live.calls)
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: get(port, "/fail" if i % 10 == 0 else "/hello/%d" % i), range(sent)))
            done = len(live.calls)
            # every request ended before `done`; one post after it holds the last of them
            live.wait_for(lambda calls: len([c for c in calls[done:] if c.operation == "post"]) >= 2, timeout=60)
        finally:
            stop(proc)
        posts = [c for c in live.calls[first:] if c.operation == "post"]
        counted = sum(m["Weight"] for c in posts for m in c.point["Metrics"] if m["Name"] == REQUEST_DURATION)
        # ~150 sampled requests, each weighing 100 / 10 %: the true count, not a tenth of it
        assert abs(counted - sent) <= 0.2 * sent, counted
