"""The options that hand control to the user's own code, through ``configure()`` in a real
process exporting to the emulator (README, "Options"): ``telemetry_processors`` that change
or drop envelopes, ``span_processors`` and ``log_record_processors``, ``logger_name`` and
``instrumentations``.

Each script records its sentinel last and shuts down (which flushes in order), so once the
sentinel has arrived anything that should have been dropped would have arrived too."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import run_python

WAIT_S = 30.0

# A server span the way a framework adapter records one; {path} is filled in per request.
PRELUDE = """
import logging, ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

def request(path, body=None):
    tracer = trace.get_tracer("shop")
    with tracer.start_as_current_span("GET " + path, kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "http.route": path, "url.path": path, "url.scheme": "http",
            "server.address": "shop", "http.response.status_code": 200}):
        if body is not None:
            body()
"""


def run_app(code: str) -> None:
    out = run_python(PRELUDE + code, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def wait_for_sentinel(emu: Emulator) -> None:
    emu.wait_for_items(1, WAIT_S, type="event", q="sentinel")


def props(item: Dict[str, Any]) -> Dict[str, Any]:
    return item["envelope"]["data"]["baseData"].get("properties") or {}


def names(emu: Emulator, kind: str) -> List[str]:
    return sorted(i["name"] for i in emu.items(type=kind, limit=1000))


def test_telemetry_processors_change_envelopes_and_none_drops_one(emulator: Emulator) -> None:  # noqa: F811
    run_app(f"""
def tag_tenant(envelope):
    envelope["data"]["baseData"].setdefault("properties", {{}})["tenant"] = "contoso"
    return envelope

def drop_health(envelope):
    return None if envelope["data"]["baseData"].get("name") == "GET /health" else envelope

tel = ai_core.configure(connection_string={emulator.connection_string!r}, disable_offline_storage=True,
                        telemetry_processors=[tag_tenant, drop_health])
request("/health")
request("/orders", lambda: logging.getLogger("shop").warning("order placed"))
ai_core.track_event("sentinel")
tel.shutdown()
""")
    wait_for_sentinel(emulator)
    assert names(emulator, "request") == ["GET /orders"]  # /health was dropped by returning None
    (order,) = emulator.items(type="request")
    (line,) = emulator.items(type="trace")
    assert props(order)["tenant"] == "contoso"
    assert props(line)["tenant"] == "contoso"
    assert emulator.rejected() == []


def test_span_and_log_record_processors_run_before_export(emulator: Emulator) -> None:  # noqa: F811
    run_app(f"""
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk._logs import LogRecordProcessor

class Tenant(SpanProcessor):
    def on_start(self, span, parent_context=None):
        span.set_attribute("tenant", "contoso")

class Region(LogRecordProcessor):
    def on_emit(self, log_record):
        log_record.log_record.attributes["region"] = "north"
    def shutdown(self):
        pass
    def force_flush(self, timeout_millis=30000):
        return True

tel = ai_core.configure(connection_string={emulator.connection_string!r}, disable_offline_storage=True,
                        span_processors=[Tenant()], log_record_processors=[Region()])
request("/orders", lambda: logging.getLogger("shop").warning("order placed"))
ai_core.track_event("sentinel")
tel.shutdown()
""")
    wait_for_sentinel(emulator)
    (order,) = emulator.items(type="request")
    (line,) = emulator.items(type="trace")
    assert props(order)["tenant"] == "contoso"
    assert props(line)["region"] == "north"


def test_logger_name_exports_only_that_loggers_records(emulator: Emulator) -> None:  # noqa: F811
    run_app(f"""
tel = ai_core.configure(connection_string={emulator.connection_string!r}, disable_offline_storage=True,
                        logger_name="shop", logging_level="INFO")
logging.getLogger("shop").setLevel(logging.INFO)
logging.getLogger("payments").warning("from another logger")
logging.getLogger().warning("from the root logger")
logging.getLogger("shop.orders").info("from a child of shop")
logging.getLogger("shop").warning("from shop itself")
ai_core.track_event("sentinel")
tel.shutdown()
""")
    wait_for_sentinel(emulator)
    assert names(emulator, "trace") == ["from a child of shop", "from shop itself"]


@pytest.mark.parametrize("chosen, expected", [
    (["urllib"], ["urllib"]),
    (["requests"], ["requests"]),
    (None, ["requests", "urllib"]),  # the default: every installed one
], ids=["urllib-only", "requests-only", "default"])
def test_instrumentations_limits_which_libraries_are_tracked(emulator: Emulator, chosen: Any, expected: List[str]) -> None:  # noqa: F811
    option = "" if chosen is None else "instrumentations=%r," % (chosen,)
    run_app(f"""
import threading, urllib.request, requests
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Stock(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Stock)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % server.server_port

tel = ai_core.configure(connection_string={emulator.connection_string!r}, disable_offline_storage=True, {option})
def calls():
    urllib.request.urlopen(base + "/stock/urllib").read()
    requests.get(base + "/stock/requests").raise_for_status()
request("/orders", calls)
ai_core.track_event("sentinel")
tel.shutdown()
server.shutdown()
""")
    wait_for_sentinel(emulator)
    assert len(emulator.items(type="request")) == 1
    deps = emulator.items(type="dependency")
    tracked = sorted(d["envelope"]["data"]["baseData"]["data"].rsplit("/", 1)[-1] for d in deps)
    assert tracked == expected
