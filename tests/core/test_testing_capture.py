"""``ai_core.testing.capture_telemetry()`` (README, "Testing your telemetry"): a block sees its own
items only, as the envelopes our exporter would send, and a capture never sends, never starts
a thread and never touches offline storage. Each case runs in a fresh interpreter
(``configure()`` is once per process); the emulator is the real endpoint that must stay empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from ai_core.delivery.storage import LocalStorage
from ai_core.emulator import EMULATOR_IKEY, Emulator
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import run_python

SPANS = """
import json, logging, threading, time
import ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from ai_core.testing import capture_only, capture_telemetry

def request(name, end=True):
    span = trace.get_tracer("app").start_span(name, kind=SpanKind.SERVER, attributes={
        "http.request.method": "GET", "url.path": "/" + name, "url.scheme": "http",
        "server.address": "shop", "http.response.status_code": 200})
    if end:
        span.end()
    return span

def names(items):
    return [i.name or i.message for i in items]
"""


def _run(code: str) -> Dict[str, Any]:
    out = run_python(SPANS + code)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _received(emu: Emulator) -> List[str]:
    return sorted(i["envelope"]["data"]["baseData"].get("name") or "" for i in emu.items(type="request", limit=100))


def test_a_capture_holds_only_what_its_block_recorded(emulator: Emulator) -> None:  # noqa: F811
    result = _run("""
capture_only()
ai_core.configure(connection_string=%r)
request("before")
started_before = request("started-before", end=False)
with capture_telemetry() as t:
    request("inside")
    started_before.end()                     # began before the block: not the block's
    started_inside = request("started-inside", end=False)
    logging.getLogger("shop").warning("inside the block")
    ai_core.track_event("CheckoutCompleted", properties={"cart": "3"})
request("after")
logging.getLogger("shop").warning("after the block")
started_inside.end()                         # began inside, ends after: still the block's
print(json.dumps({"requests": names(t.requests),
                  "traces": names(t.traces), "events": names(t.events),
                  "properties": t.events[0].properties, "all": len(t.all)}))
""" % emulator.connection_string)

    assert result["requests"] == ["GET /inside", "GET /started-inside"]
    assert result["traces"] == ["inside the block"]
    assert result["events"] == ["CheckoutCompleted"]
    assert result["properties"] == {"cart": "3"}
    assert result["all"] == 4
    assert emulator.items(limit=100) == []  # a capture-only pipeline: nothing sent, inside or out


def test_a_request_still_open_when_read_is_shown_as_it_stands() -> None:
    result = _run("""
capture_only()
ai_core.configure(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000001")
with capture_telemetry() as t:
    span = request("streaming", end=False)
first = [(r.name, r["data"]["baseData"]["responseCode"]) for r in t.requests]
span.end()
print(json.dumps({"while_open": first, "after_end": names(t.requests)}))
""")
    assert result == {"while_open": [["GET /streaming", "200"]], "after_end": ["GET /streaming"]}


def test_inside_a_capture_a_sending_pipeline_sends_nothing(emulator: Emulator) -> None:  # noqa: F811
    # Without capture_only() (a test run outside pytest that kept its connection string): the
    # pipeline sends what happens outside the block, and the block's items stay in the capture.
    result = _run("""
tel = ai_core.configure(connection_string=%r, disable_offline_storage=True)
request("before")
started_inside = None
with capture_telemetry() as t:
    request("inside")
    logging.getLogger("shop").warning("inside the block")
    started_inside = request("started-inside", end=False)
started_inside.end()
request("after")
assert tel.force_flush(20)
print(json.dumps({"captured": names(t.all)}))
""" % emulator.connection_string)

    assert result["captured"] == ["GET /inside", "inside the block", "GET /started-inside"]
    assert _received(emulator) == ["GET /after", "GET /before"]
    assert emulator.items(type="message", limit=100) == []


def test_a_capture_only_pipeline_has_no_thread_sends_nothing_and_leaves_offline_storage(
    emulator: Emulator, tmp_path: Path  # noqa: F811
) -> None:
    store = tmp_path / "store"
    storage = LocalStorage(str(store))
    left_behind = {"name": "Microsoft.ApplicationInsights.Event", "iKey": EMULATOR_IKEY,
                   "time": "2026-12-06T00:00:00.000000Z", "tags": {},
                   "data": {"baseType": "EventData", "baseData": {"ver": 2, "name": "LeftBehind"}}}
    assert storage.put([left_behind]) is not None
    blobs = sorted(p.name for p in store.rglob("*") if p.is_file())

    result = _run("""
capture_only()
tel = ai_core.configure(connection_string=%r, storage_directory=%r)
request("outside")
with capture_telemetry() as t:
    request("inside")
    logging.getLogger("shop").error("inside the block")
time.sleep(0)  # nothing to wait for: there is no export thread
threads = [th.name for th in threading.enumerate()]
assert tel.force_flush(5)
tel.shutdown()
print(json.dumps({"captured": names(t.all), "threads": threads}))
""" % (emulator.connection_string, str(store)))

    assert result["captured"] == ["GET /inside", "inside the block"]
    assert result["threads"] == ["MainThread"]
    assert emulator.items(limit=100) == []
    assert sorted(p.name for p in store.rglob("*") if p.is_file()) == blobs  # not drained, not added to


def test_envelopes_are_the_exporters_after_telemetry_processors() -> None:
    result = _run("""
capture_only()

def enrich(envelope):
    if envelope["data"]["baseData"].get("name") == "GET /secret":
        return None
    envelope["data"]["baseData"].setdefault("properties", {})["tenant"] = "t-7"
    return envelope

ai_core.configure(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000002",
                  role_name="shop", role_instance="shop-1", telemetry_processors=[enrich])
with capture_telemetry() as t:
    request("items")
    request("secret")
(r,) = t.requests
print(json.dumps({"names": names(t.requests), "properties": r.properties, "role": r.role,
                  "instance": r.role_instance, "ikey": r["iKey"], "type": r["name"],
                  "same": r.name == r["data"]["baseData"]["name"]}))
""")
    assert result == {"names": ["GET /items"], "properties": {"tenant": "t-7"}, "role": "shop",
                      "instance": "shop-1", "ikey": "00000000-0000-0000-0000-000000000002",
                      "type": "Microsoft.ApplicationInsights.Request", "same": True}


def test_reading_a_capture_that_cannot_see_anything_says_why() -> None:
    result = _run("""
outcomes = []
with capture_telemetry() as t:
    pass
try:
    t.requests
except RuntimeError as err:
    outcomes.append(str(err))
ai_core.configure(enabled=False)
try:
    t.requests
except RuntimeError as err:
    outcomes.append(str(err))
print(json.dumps(outcomes))
""")
    assert len(result) == 2
    assert "configure() has not run" in result[0]
    assert "enabled option is False" in result[1]


def test_captures_do_not_nest() -> None:
    result = _run("""
capture_only()
ai_core.configure()
with capture_telemetry():
    try:
        with capture_telemetry():
            pass
        print(json.dumps("nested"))
    except RuntimeError as err:
        print(json.dumps(str(err)))
""")
    assert "already active" in result


def test_metrics_are_the_blocks_own_measurements() -> None:
    result = _run("""
from opentelemetry import metrics
capture_only()
ai_core.configure(connection_string="InstrumentationKey=00000000-0000-0000-0000-000000000003")
orders = metrics.get_meter("shop").create_counter("orders")
orders.add(1)                                # before: not the block's
with capture_telemetry() as t:
    orders.add(2)
    first = [(m.name, m.value) for m in t.metrics if m.name == "orders"]
    orders.add(3)
orders.add(100)                              # after: not the block's
print(json.dumps({"first": first, "all": [(m.name, m.value) for m in t.metrics if m.name == "orders"],
                  "threads": [th.name for th in threading.enumerate()]}))
""")
    assert result["first"] == [["orders", 2]]
    assert result["all"] == [["orders", 2], ["orders", 3]]  # one delta per collection
    assert result["threads"] == ["MainThread"]
