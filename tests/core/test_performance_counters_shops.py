"""Performance counters from the example shops under real servers (Flask under gunicorn,
FastAPI under uvicorn), as the emulator receives them (README, "Performance counters"): the portal's counter names, request and exception
rates that add up to the requests the test made, and process readings that match the worker
process as the test reads it itself."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from ai_core.emulator import Emulator
from flask_site import BIN, duration_s, free_port, stop, wait_until_serving
from flask_site import request as request_

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="gunicorn, /proc readings")

EXAMPLES = Path(__file__).resolve().parents[2] / "example_projects"

PROCESS_TIME = "\\Process(??APP_WIN32_PROC??)\\% Processor Time"
PROCESS_TIME_NORMALIZED = "\\Process(??APP_WIN32_PROC??)\\% Processor Time Normalized"
PRIVATE_BYTES = "\\Process(??APP_WIN32_PROC??)\\Private Bytes"
IO_BYTES = "\\Process(??APP_WIN32_PROC??)\\IO Data Bytes/sec"
PROCESSOR_TOTAL = "\\Processor(_Total)\\% Processor Time"
AVAILABLE_MEMORY = "\\Memory\\Available Bytes"
EXCEPTIONS = "\\.NET CLR Exceptions(??APP_CLR_PROC??)\\# of Exceps Thrown / sec"
REQUESTS = "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Requests/Sec"
EXECUTION_TIME = "\\ASP.NET Applications(??APP_W3SVC_PROC??)\\Request Execution Time"
COUNTERS = {PROCESS_TIME, PROCESS_TIME_NORMALIZED, PRIVATE_BYTES, IO_BYTES, PROCESSOR_TOTAL, AVAILABLE_MEMORY,
            EXCEPTIONS, REQUESTS, EXECUTION_TIME}

PAGES, FAILURES = 24, 6  # the burst: product pages, and a page that raises (one exception each)


def _seconds(envelope: dict) -> float:
    return datetime.fromisoformat(envelope["time"].replace("Z", "+00:00")).timestamp()


def _counters(emu: Emulator, name: str) -> List[Tuple[float, float]]:
    """(time, value) of every envelope of one counter, oldest first."""
    points = []
    for item in emu.items(type="metric", limit=5000):
        envelope = item["envelope"]
        metric = envelope["data"]["baseData"]["metrics"][0]
        if metric["name"] == name:
            points.append((_seconds(envelope), metric["value"]))
    return sorted(points)


def _wait(condition, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


def _worker_pid(master: int) -> int:
    with open("/proc/%d/task/%d/children" % (master, master)) as f:
        children = f.read().split()
    assert len(children) == 1, children
    return int(children[0])


def _private_bytes_of(pid: int) -> int:
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "VmSwap"):
                fields[key] = int(rest.split()[0]) * 1024
    return fields["RssAnon"] + fields.get("VmSwap", 0)


def _flask_shop(tmp: Path, env: Dict[str, str], port: int) -> subprocess.Popen:
    env["FLASK_DATABASE"] = str(tmp / "shop.sqlite3")
    env["FLASK_APPLICATION_INSIGHTS_STORAGE_DIRECTORY"] = str(tmp / "storage")
    quiet = {k: v for k, v in env.items() if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    prepared = subprocess.run([str(BIN / "flask"), "--app", "flask_shop", "init-db"], cwd=EXAMPLES, env=quiet,
                              capture_output=True, text=True, timeout=120)
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    return _start([str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:%d" % port, "flask_shop:create_app()"], env)


def _fastapi_shop(tmp: Path, env: Dict[str, str], port: int) -> subprocess.Popen:
    env.update(FASTAPI_SHOP_DB=str(tmp / "shop.db"), FASTAPI_SHOP_STORAGE_DIR=str(tmp / "storage"))
    return _start([str(BIN / "uvicorn"), "--app-dir", str(EXAMPLES / "fastapi_shop"), "fastapi_shop.main:app",
                   "--port", str(port), "--no-access-log"], env)


def _start(cmd: list, env: Dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=EXAMPLES, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


# shop: (start, role, a page, a page that raises, the pid that serves: gunicorn's one worker,
# uvicorn's own process)
SHOPS = {
    "flask-gunicorn": (_flask_shop, "flask-shop", "/products/4", "/fail", lambda server: _worker_pid(server.pid)),
    "fastapi-uvicorn": (_fastapi_shop, "fastapi-shop", "/api/products/4", "/api/reports/broken",
                        lambda server: server.pid),
}


@pytest.fixture(scope="module", params=list(SHOPS))
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    start, role, page, failing, serving_pid = SHOPS[request.param]
    tmp = tmp_path_factory.mktemp("shop-counters")
    with Emulator(port=0, db=":memory:") as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "FLASK_"))}
        env["APPLICATIONINSIGHTS_CONNECTION_STRING"] = emu.connection_string
        env["OTEL_METRIC_EXPORT_INTERVAL"] = "1000"  # a collection every second, as the SDK reads it
        port = free_port()
        server = start(tmp, env, port)
        run: Dict[str, object] = {"emu": emu, "role": role}
        try:
            wait_until_serving(port, server)
            assert request_(port, "GET", page)[0] == 200  # the first item starts the export thread
            warmed = time.time()
            # The window the burst is measured from: a collection after the warm-up request.
            _wait(lambda: [p for p in _counters(emu, REQUESTS) if p[0] > warmed], "a first requests/s")
            started = time.time()
            answers = [request_(port, "GET", page)[0] for _ in range(PAGES)]
            answers += [request_(port, "GET", failing)[0] for _ in range(FAILURES)]
            ended = time.time()
            assert answers == [200] * PAGES + [500] * FAILURES
            _wait(lambda: [p for p in _counters(emu, REQUESTS) if p[0] > ended], "a requests/s after the burst")
            run.update(started=started, ended=ended, private_bytes=_private_bytes_of(serving_pid(server)))
        finally:
            run["output"] = stop(server)
        yield run


def _burst_sum(emu: Emulator, name: str, started: float, ended: float, per_request: bool = False) -> float:
    """What a per-second counter adds up to over the burst: value x window, summed over the
    collections from the last one before the burst to the first one after it (the windows are
    those of requests/s, which is sent at every collection). ``per_request``: the counter is a
    mean per request (execution time), weighed by the requests of its window."""
    windows = _counters(emu, REQUESTS)
    values = dict(_counters(emu, name))
    baseline = max(i for i, (t, _) in enumerate(windows) if t < started)
    last = min(i for i, (t, _) in enumerate(windows) if t > ended)
    total = 0.0
    for i in range(baseline + 1, last + 1):
        at, rate = windows[i]
        value = values.get(at, 0.0)  # a window without requests has no execution time
        total += value * (at - windows[i - 1][0]) * (rate if per_request else 1)
    return total


def test_every_counter_arrives_with_the_portals_name(served) -> None:
    emu = served["emu"]
    names = {item["envelope"]["data"]["baseData"]["metrics"][0]["name"] for item in emu.items(type="metric", limit=5000)}
    assert COUNTERS <= names, served["output"]
    for item in emu.items(type="metric", limit=5000):
        envelope = item["envelope"]
        if envelope["data"]["baseData"]["metrics"][0]["name"] in COUNTERS:
            assert envelope["tags"]["ai.cloud.role"] == served["role"]


def test_requests_per_second_add_up_to_the_requests_made(served) -> None:
    total = _burst_sum(served["emu"], REQUESTS, served["started"], served["ended"])
    assert total == pytest.approx(PAGES + FAILURES, abs=1)


def test_each_uncaught_exception_counts_once(served) -> None:
    # The failing page raises: one exception item per request, although the framework (Flask)
    # or the server (uvicorn) also logs it.
    total = _burst_sum(served["emu"], EXCEPTIONS, served["started"], served["ended"])
    assert total == pytest.approx(FAILURES, abs=0.5)


def test_request_execution_time_is_the_mean_duration_of_the_requests(served) -> None:
    emu, started, ended = served["emu"], served["started"], served["ended"]
    weighted = _burst_sum(emu, EXECUTION_TIME, started, ended, per_request=True)  # ms x requests
    durations = [duration_s(i["envelope"]) * 1000 for i in emu.items(type="request", role=served["role"], limit=1000)
                 if started <= _seconds(i["envelope"]) <= ended]
    assert len(durations) == PAGES + FAILURES
    # Request items carry whole milliseconds (halves rounded up): their mean is within 0.5 ms.
    assert weighted / len(durations) == pytest.approx(sum(durations) / len(durations), rel=0.1, abs=0.5)


def test_process_and_machine_readings_are_plausible_and_match_the_worker(served) -> None:
    emu = served["emu"]
    cpus = os.cpu_count() or 1
    with open("/proc/meminfo") as f:
        total_memory = int(next(line for line in f if line.startswith("MemTotal:")).split()[1]) * 1024
    assert all(0 <= v <= 100 * cpus for _, v in _counters(emu, PROCESS_TIME))
    assert all(0 <= v <= 100.5 for _, v in _counters(emu, PROCESS_TIME_NORMALIZED))
    assert all(0 <= v <= 100 for _, v in _counters(emu, PROCESSOR_TOTAL))
    assert all(0 < v <= total_memory for _, v in _counters(emu, AVAILABLE_MEMORY))
    assert any(v > 0 for _, v in _counters(emu, IO_BYTES))  # it answered 31 requests over sockets
    last_private = _counters(emu, PRIVATE_BYTES)[-1][1]
    assert last_private == pytest.approx(served["private_bytes"], rel=0.25)
