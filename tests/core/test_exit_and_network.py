"""What a plain script gets without doing anything special (README, "Delivery": interpreter
exit flushes), and where its telemetry goes over a whole run (README, "Deliberate differences":
nothing leaves for an endpoint you did not configure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import run_python

WAIT_S = 30.0

RECORD_EVERYTHING = """
import logging, ai_core
from opentelemetry import trace, metrics
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="script", storage_directory={store!r})
with trace.get_tracer("script").start_as_current_span("nightly import", kind=SpanKind.SERVER, attributes={{
        "http.request.method": "GET", "http.route": "/import", "url.path": "/import", "url.scheme": "http",
        "server.address": "script", "http.response.status_code": 200}}):
    with trace.get_tracer("script").start_as_current_span("SELECT", kind=SpanKind.CLIENT,
            attributes={{"db.system": "postgresql", "db.statement": "SELECT 1", "db.name": "shop"}}):
        logging.getLogger("script").warning("imported 3 rows")
ai_core.track_event("ImportFinished")
metrics.get_meter("script").create_counter("rows_imported").add(3)
"""

ENDINGS = {
    "falls-off-the-end": ("", 0),
    "sys-exit": ("import sys; sys.exit(3)", 3),
    "uncaught-exception": ("raise RuntimeError('import failed')", 1),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_interpreter_exit_without_a_flush_delivers_what_was_recorded(emulator: Emulator, tmp_path: Path, ending: str) -> None:  # noqa: F811
    code, status = ENDINGS[ending]
    out = run_python(RECORD_EVERYTHING.format(cs=emulator.connection_string, store=str(tmp_path / "store")) + code)
    assert out.returncode == status, out.stderr
    # Everything was sent before the process ended: it is there now, not later from disk.
    found = {t: emulator.items(type=t) for t in ("request", "dependency", "trace", "event", "metric")}
    assert [i["name"] for i in found["request"]] == ["GET /import"]
    assert len(found["dependency"]) == 1
    assert [i["name"] for i in found["trace"]] == ["imported 3 rows"]
    assert [i["name"] for i in found["event"]] == ["ImportFinished"]
    assert "rows_imported" in {i["name"] for i in found["metric"]}
    if ending == "uncaught-exception":
        assert "RuntimeError: import failed" in out.stderr  # the app's own error output is untouched


def test_nothing_leaves_for_an_endpoint_you_did_not_configure_over_a_whole_run(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    # One failed batch first: the retry and the storage paths run too, not only the happy one.
    emulator.add_fault(status=503, count=1)
    code = """
import atexit, json, sys
seen = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                 "socket.sendto", "urllib.Request", "http.client.connect"):
        seen.append([event, repr(args)[:300]])
sys.addaudithook(hook)
# Registered before configure(): atexit runs it after our own exit flush.
atexit.register(lambda: print("NETWORK " + json.dumps(seen)))
""" + RECORD_EVERYTHING.format(cs=emulator.connection_string, store=str(tmp_path / "store")) + """
for i in range(50):
    logging.getLogger("script").warning("line %d", i)
tel.force_flush(10)
"""
    out = run_python(code, env={"OTEL_METRIC_EXPORT_INTERVAL": "1000"})
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("NETWORK "))
    seen = json.loads(line[len("NETWORK "):])
    assert seen, "the audit hook saw no network use at all: the test is not looking"
    endpoint = ("127.0.0.1", emulator.port)
    for event, args in seen:
        if event == "socket.connect":
            assert repr(endpoint) in args, (event, args)
        elif event == "socket.getaddrinfo":
            assert args.startswith("('127.0.0.1', %d" % emulator.port), (event, args)
        elif event == "http.client.connect":
            assert "'127.0.0.1', %d" % emulator.port in args, (event, args)
        else:
            raise AssertionError("unexpected network use: %s %s" % (event, args))
    assert len(emulator.items(type="trace", limit=1000)) == 51  # the run did send its telemetry
