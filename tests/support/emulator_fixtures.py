"""Helpers for tests that talk to the emulator over real HTTP.

``EmulatorProcess`` is the package's ``ai_core.emulator.process.EmulatorProcess`` (``python
-m ai_core.emulator`` as a subprocess on a free port) plus JSON API wrappers; the
``emulator_process`` fixture gives one per test with a file database under ``tmp_path``.
``emulator`` gives an in-process ``Emulator`` instead (faster, same HTTP server). ``http()``
is a tiny urllib client returning status, headers and parsed JSON.

Import what you need: ``from emulator_fixtures import emulator_process, http``.
"""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import ai_core.emulator.process
from ai_core.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def golden_envelopes(name: str = "traces") -> List[Dict[str, Any]]:
    """Every envelope (main and span-event ones) of tests/support/golden/<name>.jsonl: valid test data."""
    out: List[Dict[str, Any]] = []
    with open(GOLDEN_DIR / (name + ".jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                case = json.loads(line)
                if case.get("envelope"):
                    out.append(case["envelope"])
                out.extend(case.get("extra_envelopes") or [])
    return out


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """``condition()``'s first true value, asked every 0.1 s; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s not met after %ss" % (what, timeout))
        time.sleep(0.1)


class Reply:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def http(method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
         timeout: float = 10.0) -> Reply:
    """One request; ``body`` may be bytes or a JSON-able object. Non-2xx replies are returned,
    connection errors raise."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and not req.has_header("Content-type"):  # urllib's spelling of the key
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers.items()), err.read())


def post_track(base_url: str, envelopes: Any, gzip_body: bool = False, ndjson: bool = False,
               path: str = "/v2.1/track", timeout: float = 10.0) -> Reply:
    """POST envelopes the way an SDK does: JSON array (or NDJSON), optionally gzip."""
    if isinstance(envelopes, bytes):
        raw = envelopes
    elif ndjson:
        raw = "\n".join(json.dumps(e) for e in envelopes).encode()
    else:
        raw = json.dumps(envelopes).encode()
    headers = {"Content-Type": "application/x-json-stream" if ndjson else "application/json"}
    if gzip_body:
        raw = gzip.compress(raw)
        headers["Content-Encoding"] = "gzip"
    return http("POST", base_url + path, raw, headers, timeout=timeout)


class EmulatorProcess(ai_core.emulator.process.EmulatorProcess):
    """The package's emulator subprocess helper, plus thin wrappers of its JSON API."""

    def get(self, path: str) -> Any:
        reply = http("GET", self.url + path)
        assert reply.status == 200, (reply.status, reply.body)
        return reply.json()

    def items(self, **query: Any) -> List[Dict[str, Any]]:
        qs = "&".join("%s=%s" % (k, urllib.request.quote(str(v))) for k, v in query.items())
        return self.get("/api/items" + ("?" + qs if qs else ""))["items"]

    def post_track(self, envelopes: Any, **kwargs: Any) -> Reply:
        return post_track(self.url, envelopes, **kwargs)

    def add_fault(self, **spec: Any) -> Reply:
        return http("POST", self.url + "/api/faults", spec)


@pytest.fixture
def emulator_process(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """An emulator subprocess on a free port with a file database in ``tmp_path``."""
    proc = EmulatorProcess(db=str(tmp_path / "emulator.db"), cwd=str(ROOT))
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An in-process emulator (background thread, ``:memory:`` database) on a free port."""
    with Emulator(port=0, db=":memory:") as emu:
        yield emu
