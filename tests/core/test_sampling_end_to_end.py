"""Which requests are sent, end to end over real HTTP between real processes (README,
"Options": ``sampling_ratio`` fixed-rate and trace-consistent, ``excluded_urls`` on the path
only, never the query).

A backend (a WSGI app in OpenTelemetry's WSGI middleware under ``wsgiref``) answers each
request with a SQLite query and a log line; a frontend calls it through ``requests`` inside
requests of its own. Both run ``configure()`` in their own process. Each process records a
sentinel event last and is stopped gracefully, so once both sentinels have arrived, anything
that should have been dropped would have arrived too."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from ai_core.emulator import Emulator
from ai_core.sampler import djb2_score
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import ROOT, run_python

WAIT_S = 60.0

BACKEND = """
import logging, sqlite3, sys, ai_core
from wsgiref.simple_server import make_server, WSGIRequestHandler
from opentelemetry import context
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

ai_core.configure(connection_string=sys.argv[1], role_name="backend", disable_offline_storage=True,
                  sampling_ratio=float(sys.argv[2]), excluded_urls=["health"])
log = logging.getLogger("backend")
db = sqlite3.connect(":memory:", check_same_thread=False)

def app(environ, start_response):
    if environ["PATH_INFO"] == "/sentinel":
        # Outside the request's trace, which sampling may drop with everything in it.
        token = context.attach(context.Context())
        ai_core.track_event("sentinel backend")
        context.detach(token)
    else:
        db.cursor().execute("SELECT 1").fetchall()
        log.warning("served %s?%s", environ["PATH_INFO"], environ.get("QUERY_STRING", ""))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app), handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def backend_factory(emulator: Emulator, tmp_path: Path) -> Iterator[Any]:  # noqa: F811
    """Start the backend with a sampling ratio; yields its base URL. Stopped with SIGTERM
    (which flushes), so its telemetry is all sent when ``stop()`` returns."""
    started: List[subprocess.Popen] = []
    script = tmp_path / "backend.py"
    script.write_text(BACKEND)

    class Backend:
        def __init__(self, ratio: float) -> None:
            env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
            self.proc = subprocess.Popen([sys.executable, str(script), emulator.connection_string, str(ratio)],
                                         cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started.append(self.proc)
            line = self.proc.stdout.readline() if self.proc.stdout else ""
            assert line.strip().isdigit(), "backend did not start: %s%s" % (line, self.proc.stderr.read() if self.proc.stderr else "")
            self.url = "http://127.0.0.1:%s" % line.strip()

        def stop(self) -> None:
            self.proc.send_signal(signal.SIGTERM)
            _, err = self.proc.communicate(timeout=WAIT_S)
            assert "Traceback" not in err, err

    yield Backend
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_frontend(emu: Emulator, backend_url: str, paths: List[str], ratio: float) -> List[str]:
    """One frontend request per path, each calling the backend there; returns the trace ids."""
    out = run_python(f"""
import json, requests, ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={emu.connection_string!r}, role_name="frontend",
                        disable_offline_storage=True, sampling_ratio={ratio!r})
tracer = trace.get_tracer("frontend")
ids = []
for path in {paths!r}:
    with tracer.start_as_current_span("GET /job", kind=SpanKind.SERVER, attributes={{
            "http.request.method": "GET", "http.route": "/job", "url.path": "/job",
            "url.scheme": "http", "server.address": "frontend", "http.response.status_code": 200}}) as span:
        ids.append(format(span.get_span_context().trace_id, "032x"))
        requests.get({backend_url!r} + path).raise_for_status()
requests.get({backend_url!r} + "/sentinel").raise_for_status()
ai_core.track_event("sentinel frontend")
tel.shutdown()
print(json.dumps(ids))
""", timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for_sentinels(emu: Emulator) -> None:
    for role in ("frontend", "backend"):
        emu.wait_for_items(1, WAIT_S, type="event", q="sentinel " + role)


def by_operation(emu: Emulator) -> Dict[Optional[str], List[Dict[str, Any]]]:
    groups: Dict[Optional[str], List[Dict[str, Any]]] = defaultdict(list)
    for item in emu.items(limit=10000):
        if item["type"] not in ("event", "metric"):
            groups[item["operation_id"]].append(item)
    # The call that delivers the backend's sentinel is a trace of its own, sampled like any other.
    return {op: items for op, items in groups.items()
            if not any(i["envelope"]["data"]["baseData"].get("url", "").endswith("/sentinel") for i in items)}


def kinds(items: List[Dict[str, Any]]) -> List[tuple]:
    return sorted((i["role"], i["type"]) for i in items)


def test_half_sampling_keeps_or_drops_each_distributed_trace_as_a_whole(emulator: Emulator, backend_factory: Any) -> None:  # noqa: F811
    backend = backend_factory(0.5)
    trace_ids = run_frontend(emulator, backend.url, ["/orders/%d" % i for i in range(24)], 0.5)
    backend.stop()
    wait_for_sentinels(emulator)

    # The decision per trace id is the Application Insights one (README, "Switching from the
    # official exporter"): a trace is kept when its score is below the ratio.
    expected_kept = {t for t in trace_ids if djb2_score(t) < 0.5}
    assert 0 < len(expected_kept) < len(trace_ids), "24 random traces all on one side: rerun"
    groups = by_operation(emulator)
    assert set(groups) == expected_kept  # an unsampled trace sent nothing at all, in either process
    for op_id in expected_kept:
        items = groups[op_id]
        # Kept as a whole: both requests, the HTTP call, the backend's query and its log line.
        assert kinds(items) == [
            ("backend", "dependency"), ("backend", "request"), ("backend", "trace"),
            ("frontend", "dependency"), ("frontend", "request"),
        ], items
        # Every item says it stands for 2 (the portal scales counts back up), the log line too:
        # the official exporter sends logs without sampleRate, so the portal would count half
        # of them (README, "Deliberate differences").
        assert [i["envelope"].get("sampleRate") for i in items] == [50.0] * 5, items
    assert emulator.rejected() == []


def test_excluded_urls_never_match_the_query_string(emulator: Emulator, backend_factory: Any) -> None:  # noqa: F811
    backend = backend_factory(1.0)
    run_frontend(emulator, backend.url, ["/orders?x=health", "/health?x=1", "/healthz"], 1.0)
    backend.stop()
    wait_for_sentinels(emulator)
    backend_lines = sorted(i["name"] for i in emulator.items(type="trace", role="backend"))
    # "health" is searched in the path only: the order with ?x=health is sent, /health and
    # /healthz (the regex matches inside the path) are not.
    assert backend_lines == ["served /orders?x=health"]
    requests = sorted(emulator.items(type="request", role="backend"), key=lambda r: r["id"])
    assert [r["envelope"]["data"]["baseData"]["url"].split("/", 3)[-1] for r in requests] == ["orders?x=health", "sentinel"]
    request = requests[0]
    assert request["envelope"]["data"]["baseData"]["url"].endswith("/orders?x=health")
    assert len(emulator.items(type="dependency", role="backend")) == 1
    assert len(emulator.items(type="request", role="frontend")) == 3  # the caller's own requests are not excluded
