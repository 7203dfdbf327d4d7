"""The emulator's ingestion protocol, validation rules, storage and query API, over real HTTP."""

from __future__ import annotations

import copy
import gzip
import json
from typing import Any, Callable, Dict, List

import pytest

from emulator_fixtures import (  # noqa: F401  (fixtures are used by name)
    EmulatorProcess,
    emulator,
    emulator_process,
    golden_envelopes,
    http,
    post_track,
)

TRACES = golden_envelopes("traces")
LOGS = golden_envelopes("logs")
METRICS = golden_envelopes("metrics")


def first_of(base_type: str) -> Dict[str, Any]:
    for env in TRACES + LOGS + METRICS:
        if env["data"]["baseType"] == base_type:
            return copy.deepcopy(env)
    raise LookupError(base_type)


def pageview() -> Dict[str, Any]:
    env = first_of("EventData")
    env["name"] = "Microsoft.ApplicationInsights.PageView"
    env["data"] = {"baseType": "PageViewData", "baseData": {
        "ver": 2, "name": "Home", "url": "http://localhost/", "duration": "0.00:00:00.250"}}
    return env


# -- framing: encodings, array/NDJSON, paths ---------------------------------------------------

@pytest.mark.parametrize("gzip_body", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("ndjson", [False, True], ids=["array", "ndjson"])
def test_all_golden_envelopes_accepted(emulator, gzip_body, ndjson):
    envelopes = TRACES + LOGS + METRICS
    reply = post_track(emulator.url, envelopes, gzip_body=gzip_body, ndjson=ndjson)
    assert reply.status == 200
    assert reply.json() == {"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes),
                            "errors": []}
    assert reply.headers["Content-Type"].startswith("application/json")
    assert emulator.stats()["stored"]["items"] == len(envelopes)


@pytest.mark.parametrize("path", ["/v2.1/track", "//v2.1/track", "/v2/track", "/prefix/v2.1/track"])
def test_track_paths(emulator, path):
    reply = post_track(emulator.url, TRACES[:2], path=path)
    assert reply.status == 200, reply.body
    assert reply.json()["itemsAccepted"] == 2


def test_single_object_body_is_one_item(emulator):
    reply = post_track(emulator.url, json.dumps(TRACES[0]).encode())
    assert reply.json() == {"itemsReceived": 1, "itemsAccepted": 1, "errors": []}


def test_gzip_detected_by_magic_without_header(emulator):
    raw = gzip.compress(json.dumps(TRACES[:3]).encode())
    reply = http("POST", emulator.url + "/v2.1/track", raw, {"Content-Type": "application/json"})
    assert reply.status == 200 and reply.json()["itemsAccepted"] == 3


def test_keep_alive_connection_serves_several_batches(emulator):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    for _ in range(3):
        conn.request("POST", "/v2.1/track", json.dumps(TRACES[:2]),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["itemsAccepted"] == 2
    conn.close()


# -- replies: 200 / 206 / 400 ----------------------------------------------------------------

def test_partial_rejection_gives_206_with_index_and_message(emulator):
    bad = first_of("RequestData")
    del bad["data"]["baseData"]["duration"]
    reply = post_track(emulator.url, [TRACES[0], bad, TRACES[1]])
    assert reply.status == 206
    assert reply.json() == {"itemsReceived": 3, "itemsAccepted": 2, "errors": [
        {"index": 1, "statusCode": 400,
         "message": "data.baseData.duration: required field is missing"}]}
    assert len(emulator.items()) == 2


def test_all_rejected_gives_400_with_errors(emulator):
    bad = first_of("MessageData")
    bad["iKey"] = "not-a-guid"
    reply = post_track(emulator.url, [bad, bad])
    assert reply.status == 400
    body = reply.json()
    assert body["itemsReceived"] == 2 and body["itemsAccepted"] == 0
    assert [e["index"] for e in body["errors"]] == [0, 1]


@pytest.mark.parametrize("raw,headers,message", [
    (b"\x1f\x8b\x08garbage", {"Content-Encoding": "gzip"}, "body is not valid gzip data"),
    (b"not json at all", {}, "body is not valid JSON"),
    (b"[{\"name\": ", {}, "body is not valid JSON"),
    (b"", {}, "body is empty"),
    (b"\xff\xfe\x00", {}, "body is not UTF-8"),
], ids=["bad-gzip", "not-json", "truncated-array", "empty", "not-utf8"])
def test_unreadable_body_gives_400(emulator, raw, headers, message):
    reply = http("POST", emulator.url + "/v2.1/track", raw,
                 dict(headers, **{"Content-Type": "application/json"}))
    assert reply.status == 400
    body = reply.json()
    assert body["itemsReceived"] == 0 and body["itemsAccepted"] == 0
    assert body["errors"][0]["statusCode"] == 400
    assert body["errors"][0]["message"].startswith(message)
    assert emulator.stats()["received"]["batches_unreadable"] == 1


def test_ndjson_bad_line_rejects_only_that_item(emulator):
    raw = (json.dumps(TRACES[0]) + "\n{broken\n" + json.dumps(TRACES[1])).encode()
    reply = post_track(emulator.url, raw)
    assert reply.status == 206
    body = reply.json()
    assert body["itemsAccepted"] == 2
    assert body["errors"][0]["index"] == 1
    assert body["errors"][0]["message"].startswith("item: not valid JSON")
    assert emulator.rejected()[0]["raw"] == "{broken"


def test_get_on_track_is_405(emulator):
    assert http("GET", emulator.url + "/v2.1/track").status == 405


# -- validation rules: one case per rule, the message asserted --------------------------------

def _set(path: str, value: Any) -> Callable[[Dict[str, Any]], None]:
    def mutate(env: Dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = env
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return mutate


_DELETE = object()

RULES = [
    # (id, base type, mutation, expected message)
    ("item-not-object", "RequestData", None, "item: must be a JSON object, got array"),
    ("name-missing", "RequestData", _set("name", _DELETE), "name: required field is missing"),
    ("name-empty", "RequestData", _set("name", ""), "name: must be a non-empty string"),
    ("time-missing", "RequestData", _set("time", _DELETE), "time: required field is missing"),
    ("time-invalid", "RequestData", _set("time", "yesterday"),
     "time: not an ISO 8601 date-time ('yesterday')"),
    ("ikey-missing", "RequestData", _set("iKey", _DELETE), "iKey: required field is missing"),
    ("ikey-not-guid", "RequestData", _set("iKey", "abc"), "iKey: not a GUID ('abc')"),
    ("sample-rate-range", "RequestData", _set("sampleRate", 0),
     "sampleRate: must be a number in (0, 100], got 0"),
    ("tags-not-object", "RequestData", _set("tags", []), "tags: must be an object, got array"),
    ("tag-not-string", "RequestData", lambda env: env["tags"].update({"ai.cloud.role": 5}),
     "tags.ai.cloud.role: must be a string, got number"),
    ("data-missing", "RequestData", _set("data", _DELETE), "data: required field is missing"),
    ("basetype-missing", "RequestData", _set("data.baseType", _DELETE),
     "data.baseType: required field is missing"),
    ("basetype-unknown", "RequestData", _set("data.baseType", "FooData"),
     "data.baseType: unknown type 'FooData' (expected one of RequestData, RemoteDependencyData, "
     "ExceptionData, MessageData, EventData, MetricData, AvailabilityData, PageViewData)"),
    ("basedata-missing", "RequestData", _set("data.baseData", _DELETE),
     "data.baseData: required field is missing"),
    ("basedata-not-object", "RequestData", _set("data.baseData", "x"),
     "data.baseData: must be an object, got string"),
    # Request
    ("request-id-missing", "RequestData", _set("data.baseData.id", _DELETE),
     "data.baseData.id: required field is missing"),
    ("request-id-empty", "RequestData", _set("data.baseData.id", ""),
     "data.baseData.id: required field is empty"),
    ("request-id-too-long", "RequestData", _set("data.baseData.id", "a" * 129),
     "data.baseData.id: longer than 128 characters (129)"),
    ("request-duration-missing", "RequestData", _set("data.baseData.duration", _DELETE),
     "data.baseData.duration: required field is missing"),
    ("request-duration-format", "RequestData", _set("data.baseData.duration", "1.5s"),
     "data.baseData.duration: not a d.hh:mm:ss.fff duration ('1.5s')"),
    ("request-duration-type", "RequestData", _set("data.baseData.duration", 15),
     "data.baseData.duration: must be a duration string, got number"),
    ("request-responsecode-missing", "RequestData", _set("data.baseData.responseCode", _DELETE),
     "data.baseData.responseCode: required field is missing"),
    ("request-responsecode-type", "RequestData", _set("data.baseData.responseCode", 200),
     "data.baseData.responseCode: must be a string, got number"),
    ("request-success-missing", "RequestData", _set("data.baseData.success", _DELETE),
     "data.baseData.success: required field is missing"),
    ("request-success-type", "RequestData", _set("data.baseData.success", "true"),
     "data.baseData.success: must be a boolean, got string"),
    ("request-name-too-long", "RequestData", _set("data.baseData.name", "n" * 1025),
     "data.baseData.name: longer than 1024 characters (1025)"),
    ("request-url-too-long", "RequestData", _set("data.baseData.url", "u" * 2100),
     "data.baseData.url: longer than 2048 characters (2100)"),
    ("request-source-too-long", "RequestData", _set("data.baseData.source", "s" * 1025),
     "data.baseData.source: longer than 1024 characters (1025)"),
    # RemoteDependency
    ("dependency-name-missing", "RemoteDependencyData", _set("data.baseData.name", _DELETE),
     "data.baseData.name: required field is missing"),
    ("dependency-duration-missing", "RemoteDependencyData",
     _set("data.baseData.duration", _DELETE), "data.baseData.duration: required field is missing"),
    ("dependency-success-missing", "RemoteDependencyData",
     _set("data.baseData.success", _DELETE), "data.baseData.success: required field is missing"),
    ("dependency-data-too-long", "RemoteDependencyData", _set("data.baseData.data", "d" * 8193),
     "data.baseData.data: longer than 8192 characters (8193)"),
    ("dependency-target-too-long", "RemoteDependencyData",
     _set("data.baseData.target", "t" * 1025),
     "data.baseData.target: longer than 1024 characters (1025)"),
    ("dependency-type-too-long", "RemoteDependencyData", _set("data.baseData.type", "t" * 1025),
     "data.baseData.type: longer than 1024 characters (1025)"),
    ("dependency-resultcode-too-long", "RemoteDependencyData",
     _set("data.baseData.resultCode", "1" * 1025),
     "data.baseData.resultCode: longer than 1024 characters (1025)"),
    # Exception
    ("exception-list-missing", "ExceptionData", _set("data.baseData.exceptions", _DELETE),
     "data.baseData.exceptions: required field is missing"),
    ("exception-list-empty", "ExceptionData", _set("data.baseData.exceptions", []),
     "data.baseData.exceptions: must not be empty"),
    ("exception-list-type", "ExceptionData", _set("data.baseData.exceptions", {}),
     "data.baseData.exceptions: must be an array, got object"),
    ("exception-typename-missing", "ExceptionData",
     _set("data.baseData.exceptions.0.typeName", _DELETE),
     "data.baseData.exceptions[0].typeName: required field is missing"),
    ("exception-message-missing", "ExceptionData",
     _set("data.baseData.exceptions.0.message", _DELETE),
     "data.baseData.exceptions[0].message: required field is missing"),
    ("exception-hasfullstack-type", "ExceptionData",
     _set("data.baseData.exceptions.0.hasFullStack", "yes"),
     "data.baseData.exceptions[0].hasFullStack: must be a boolean, got string"),
    ("exception-stack-too-long", "ExceptionData",
     _set("data.baseData.exceptions.0.stack", "s" * 32769),
     "data.baseData.exceptions[0].stack: longer than 32768 characters (32769)"),
    ("exception-severity-type", "ExceptionData", _set("data.baseData.severityLevel", "Error"),
     "data.baseData.severityLevel: must be an integer, got string"),
    # Message
    ("message-missing", "MessageData", _set("data.baseData.message", _DELETE),
     "data.baseData.message: required field is missing"),
    ("message-too-long", "MessageData", _set("data.baseData.message", "m" * 32769),
     "data.baseData.message: longer than 32768 characters (32769)"),
    # Event
    ("event-name-missing", "EventData", _set("data.baseData.name", _DELETE),
     "data.baseData.name: required field is missing"),
    ("event-name-too-long", "EventData", _set("data.baseData.name", "e" * 513),
     "data.baseData.name: longer than 512 characters (513)"),
    # Metric
    ("metrics-missing", "MetricData", _set("data.baseData.metrics", _DELETE),
     "data.baseData.metrics: required field is missing"),
    ("metrics-empty", "MetricData", _set("data.baseData.metrics", []),
     "data.baseData.metrics: must not be empty"),
    ("metric-name-missing", "MetricData", _set("data.baseData.metrics.0.name", _DELETE),
     "data.baseData.metrics[0].name: required field is missing"),
    ("metric-value-missing", "MetricData", _set("data.baseData.metrics.0.value", _DELETE),
     "data.baseData.metrics[0].value: required field is missing"),
    ("metric-value-type", "MetricData", _set("data.baseData.metrics.0.value", "1"),
     "data.baseData.metrics[0].value: must be a number, got string"),
    # Availability
    ("availability-id-missing", "AvailabilityData", _set("data.baseData.id", _DELETE),
     "data.baseData.id: required field is missing"),
    ("availability-name-missing", "AvailabilityData", _set("data.baseData.name", _DELETE),
     "data.baseData.name: required field is missing"),
    ("availability-duration-format", "AvailabilityData", _set("data.baseData.duration", "1500"),
     "data.baseData.duration: not a d.hh:mm:ss.fff duration ('1500')"),
    ("availability-success-missing", "AvailabilityData", _set("data.baseData.success", _DELETE),
     "data.baseData.success: required field is missing"),
    ("availability-runlocation-type", "AvailabilityData", _set("data.baseData.runLocation", 1),
     "data.baseData.runLocation: must be a string, got number"),
    # PageView
    ("pageview-name-missing", "PageViewData", _set("data.baseData.name", _DELETE),
     "data.baseData.name: required field is missing"),
    ("pageview-url-too-long", "PageViewData", _set("data.baseData.url", "u" * 2049),
     "data.baseData.url: longer than 2048 characters (2049)"),
    # Properties and measurements
    ("property-key-too-long", "MessageData", _set("data.baseData.properties", {"k" * 151: "v"}),
     "data.baseData.properties: key longer than 150 characters (151): '%s...'" % ("k" * 40)),
    ("property-value-too-long", "MessageData", _set("data.baseData.properties", {"k": "v" * 8193}),
     "data.baseData.properties.k: longer than 8192 characters (8193)"),
    ("property-value-type", "MessageData", _set("data.baseData.properties", {"k": 1}),
     "data.baseData.properties.k: must be a string, got number"),
    ("properties-type", "MessageData", _set("data.baseData.properties", []),
     "data.baseData.properties: must be an object, got array"),
    ("measurement-type", "MessageData", _set("data.baseData.measurements", {"m": "1"}),
     "data.baseData.measurements.m: must be a finite number, got string"),
    ("measurement-key-too-long", "MessageData",
     _set("data.baseData.measurements", {"m" * 151: 1}),
     "data.baseData.measurements: key longer than 150 characters (151): '%s...'" % ("m" * 40)),
]


def _envelope(base_type: str) -> Dict[str, Any]:
    return pageview() if base_type == "PageViewData" else first_of(base_type)


@pytest.mark.parametrize("base_type,mutate,message", [r[1:] for r in RULES],
                         ids=[r[0] for r in RULES])
def test_validation_rule(emulator, base_type, mutate, message):
    env: Any = _envelope(base_type)
    if mutate is None:
        env = [env]  # an item that is not an object
    else:
        mutate(env)
    reply = post_track(emulator.url, [_envelope(base_type), env])
    assert reply.status == 206, reply.body
    assert reply.json()["errors"] == [{"index": 1, "statusCode": 400, "message": message}]
    rejected = http("GET", emulator.url + "/api/rejected").json()["items"]
    assert [(r["batch_index"], r["status_code"], r["message"]) for r in rejected] == [
        (1, 400, message)]
    assert rejected[0]["envelope"] == env


@pytest.mark.parametrize("base_type", ["RequestData", "RemoteDependencyData", "ExceptionData",
                                       "MessageData", "EventData", "MetricData",
                                       "AvailabilityData", "PageViewData"])
def test_each_base_type_valid_and_typed(emulator, base_type):
    reply = post_track(emulator.url, [_envelope(base_type)])
    assert reply.status == 200, reply.body
    expected = {"RequestData": "request", "RemoteDependencyData": "dependency",
                "ExceptionData": "exception", "MessageData": "trace", "EventData": "event",
                "MetricData": "metric", "AvailabilityData": "availability",
                "PageViewData": "pageview"}[base_type]
    assert [i["type"] for i in emulator.items()] == [expected]


def test_duration_formats_accepted_and_parsed(emulator):
    envs = []
    for duration in ["0.00:00:00.250", "00:00:01", "1.02:03:04.005", "00:00:00.1234567"]:
        env = first_of("RequestData")
        env["data"]["baseData"]["duration"] = duration
        envs.append(env)
    assert post_track(emulator.url, envs).status == 200
    got = sorted(i["duration_ms"] for i in emulator.items())
    assert got == [123.4567, 250.0, 1000.0, 93784005.0]


def test_over_long_tag_is_accepted_with_warning(emulator):
    env = first_of("RequestData")
    env["tags"]["ai.operation.name"] = "o" * 1500
    reply = post_track(emulator.url, [env])
    assert reply.status == 200
    assert emulator.items()[0]["warnings"] == [
        "tags.ai.operation.name: longer than 1024 characters (1500), the service truncates it"]


def test_genai_property_allows_256k(emulator):
    env = first_of("RemoteDependencyData")
    env["data"]["baseData"]["properties"] = {"gen_ai.input.messages": "x" * 9000}
    assert post_track(emulator.url, [env]).status == 200


# -- storage --------------------------------------------------------------------------------

def test_persistence_across_restart(emulator_process: EmulatorProcess):
    bad = first_of("EventData")
    del bad["data"]["baseData"]["name"]
    reply = emulator_process.post_track(TRACES[:5] + [bad], gzip_body=True)
    assert reply.status == 206
    first_port = emulator_process.port
    emulator_process.restart()
    assert emulator_process.port != 0
    items = emulator_process.items(limit=100)
    assert len(items) == 5
    assert {i["envelope"]["data"]["baseData"]["id"] for i in items} == {
        e["data"]["baseData"]["id"] for e in TRACES[:5]}
    rejected = emulator_process.get("/api/rejected")["items"]
    assert rejected[0]["message"] == "data.baseData.name: required field is missing"
    assert first_port > 0


def test_cli_banner_prints_connection_string_with_real_port(emulator_process: EmulatorProcess):
    banner = "\n".join(emulator_process.banner)
    url = "http://127.0.0.1:%d" % emulator_process.port
    assert ("Connection string: InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            "IngestionEndpoint=%s;LiveEndpoint=%s/" % (url, url)) in banner
    assert emulator_process.port > 0 and emulator_process.url == url
    assert emulator_process.connection_string.endswith(";LiveEndpoint=%s/" % url)


def test_summary_columns(emulator):
    post_track(emulator.url, [e for e in TRACES if e["data"]["baseType"] == "RequestData"][:1])
    item = emulator.items()[0]
    env = item["envelope"]
    assert item["type"] == "request"
    assert item["name"] == env["data"]["baseData"]["name"]
    assert item["role"] == env["tags"]["ai.cloud.role"]
    assert item["role_instance"] == env["tags"]["ai.cloud.roleInstance"]
    assert item["operation_id"] == env["tags"]["ai.operation.id"]
    assert item["telemetry_id"] == env["data"]["baseData"]["id"]
    assert item["success"] is env["data"]["baseData"]["success"]
    assert item["result_code"] == env["data"]["baseData"]["responseCode"]
    assert item["ikey"] == env["iKey"]
    assert item["time"].endswith("Z") and len(item["time"]) == 27
    assert isinstance(item["id"], int) and item["received_at"].endswith("Z")


# -- query API ------------------------------------------------------------------------------

def _env(base_type: str, role: str, op: str, time: str, **base: Any) -> Dict[str, Any]:
    env = _envelope(base_type)
    env["tags"]["ai.cloud.role"] = role
    env["tags"]["ai.operation.id"] = op
    env["tags"].pop("ai.operation.parentId", None)
    env["time"] = time
    env["data"]["baseData"].update(base)
    return env


def _parented(env: Dict[str, Any], parent: str) -> Dict[str, Any]:
    env["tags"]["ai.operation.parentId"] = parent
    return env


def two_role_operation() -> List[Dict[str, Any]]:
    """frontend request r1 -> dependency d1 -> backend request r2 -> postgres dependency d2,
    plus a failed call to an external API and a log line."""
    op = "a" * 32
    return [
        _env("RequestData", "frontend", op, "2024-05-01T10:00:00Z", id="r1", name="GET /shop",
             success=True, duration="0.00:00:00.300"),
        _parented(_env("RemoteDependencyData", "frontend", op, "2024-05-01T10:00:00.010Z",
                       id="d1", name="GET /api/stock", target="backend:8000", type="HTTP",
                       success=True, duration="0.00:00:00.200"), "r1"),
        _parented(_env("RequestData", "backend", op, "2024-05-01T10:00:00.020Z", id="r2",
                       name="GET /api/stock", success=True, duration="0.00:00:00.150"), "d1"),
        _parented(_env("RemoteDependencyData", "backend", op, "2024-05-01T10:00:00.030Z",
                       id="d2", name="SELECT", target="db|shop", type="postgresql",
                       success=True, duration="0.00:00:00.050"), "r2"),
        _parented(_env("RemoteDependencyData", "frontend", op, "2024-05-01T10:00:00.250Z",
                       id="d3", name="POST /pay", target="pay.example.com", type="HTTP",
                       success=False, duration="0.00:00:00.040"), "r1"),
        _parented(_env("MessageData", "backend", op, "2024-05-01T10:00:00.040Z",
                       message="stock looked up"), "r2"),
    ]


@pytest.fixture
def loaded(emulator):
    other = _env("RequestData", "frontend", "b" * 32, "2024-05-02T08:00:00Z", id="r9",
                 name="GET /login", success=False, responseCode="500")
    assert post_track(emulator.url, two_role_operation() + [other]).status == 200
    return emulator


def api(emu, path: str) -> Any:
    reply = http("GET", emu.url + path)
    assert reply.status == 200, reply.body
    return reply.json()


def test_items_newest_first_and_type_filter(loaded):
    body = api(loaded, "/api/items?type=request")
    assert [i["telemetry_id"] for i in body["items"]] == ["r9", "r2", "r1"]
    assert body["count"] == 3
    both = api(loaded, "/api/items?type=request,dependency")["items"]
    assert len(both) == 6


def test_items_role_operation_success_filters(loaded):
    assert {i["telemetry_id"] for i in api(loaded, "/api/items?role=backend")["items"]} == {
        "r2", "d2", None}
    assert len(api(loaded, "/api/items?operation_id=" + "b" * 32)["items"]) == 1
    failed = api(loaded, "/api/items?success=false")["items"]
    assert {i["telemetry_id"] for i in failed} == {"d3", "r9"}


def test_items_time_window_text_limit_and_after_id(loaded):
    window = api(loaded, "/api/items?since=2024-05-01T10:00:00.015Z&until=2024-05-01T10:00:00.035Z")
    assert {i["telemetry_id"] for i in window["items"]} == {"r2", "d2"}
    # Times with offsets are compared in UTC.
    assert len(api(loaded, "/api/items?since=2024-05-02T10:00:00%2B02:00")["items"]) == 1
    assert [i["name"] for i in api(loaded, "/api/items?q=LOOKED")["items"]] == ["stock looked up"]
    assert len(api(loaded, "/api/items?limit=2")["items"]) == 2
    newest_id = max(i["id"] for i in api(loaded, "/api/items")["items"])
    assert api(loaded, "/api/items?after_id=%d" % newest_id)["items"] == []
    assert http("GET", loaded.url + "/api/items?since=soon").status == 400
    assert http("GET", loaded.url + "/api/items?limit=x").status == 400


def test_item_by_id(loaded):
    first = api(loaded, "/api/items?limit=1")["items"][0]
    assert api(loaded, "/api/items/%d" % first["id"]) == first
    assert http("GET", loaded.url + "/api/items/999999").status == 404


def test_operation_oldest_first(loaded):
    body = api(loaded, "/api/operations/" + "a" * 32)
    assert body["count"] == 6
    assert [i["type"] for i in body["items"]] == [
        "request", "dependency", "request", "dependency", "trace", "dependency"]


def test_roles(loaded):
    roles = {r["role"]: r for r in api(loaded, "/api/roles")["roles"]}
    assert set(roles) == {"frontend", "backend"}
    assert roles["frontend"]["counts"] == {"request": 2, "dependency": 2}
    assert roles["backend"]["counts"] == {"request": 1, "dependency": 1, "trace": 1}
    assert roles["backend"]["instances"]


def test_map_edges_between_roles_and_to_externals(loaded):
    body = api(loaded, "/api/map")
    nodes = {n["id"]: n for n in body["nodes"]}
    assert nodes["role:frontend"]["kind"] == "role"
    assert nodes["role:frontend"]["requests"] == 2
    assert nodes["role:frontend"]["failed_requests"] == 1
    assert nodes["external:db|shop"] == {"id": "external:db|shop", "kind": "external",
                                         "name": "db|shop", "type": "postgresql"}
    edges = {(e["source"], e["target"]): e for e in body["edges"]}
    assert set(edges) == {("role:frontend", "role:backend"),
                          ("role:backend", "external:db|shop"),
                          ("role:frontend", "external:pay.example.com")}
    assert edges[("role:frontend", "role:backend")] == {
        "source": "role:frontend", "target": "role:backend", "calls": 1, "failures": 0,
        "failure_rate": 0.0, "avg_duration_ms": 200.0}
    assert edges[("role:frontend", "external:pay.example.com")]["failure_rate"] == 1.0


def test_delete_items_clears_everything(loaded):
    bad = first_of("MessageData")
    bad["data"]["baseData"]["message"] = ""
    post_track(loaded.url, [bad])
    # A custom header (or a JSON Content-Type): what a cross-site form cannot send.
    assert http("DELETE", loaded.url + "/api/items",
                headers={"X-Requested-With": "test"}).json() == {"cleared": True}
    assert api(loaded, "/api/items")["items"] == []
    assert api(loaded, "/api/rejected")["items"] == []
    assert api(loaded, "/api/stats")["stored"] == {"items": 0, "by_type": {}, "rejected": 0}


def test_unknown_api_route_and_method(emulator):
    assert http("GET", emulator.url + "/api/nothing").status == 404
    assert http("POST", emulator.url + "/api/items", {}).status == 405


# -- static files ---------------------------------------------------------------------------

def test_root_serves_the_viewer_without_outside_assets(emulator):
    reply = http("GET", emulator.url + "/")
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"<title>Application Insights emulator</title>" in reply.body
    # Works offline: no script, style or font is loaded from another host.
    assert b'src="http' not in reply.body and b'href="http' not in reply.body


def test_static_files_never_escape_the_folder(emulator):
    assert http("GET", emulator.url + "/index.html").status == 200
    assert http("GET", emulator.url + "/../server.py").status == 404
    assert http("GET", emulator.url + "/%2e%2e/server.py").status == 404
    assert http("GET", emulator.url + "/missing.js").status == 404


def test_in_process_helper_wait_for_items(emulator):
    post_track(emulator.url, TRACES[:4])
    assert len(emulator.wait_for_items(count=4, timeout=60)) == 4
    with pytest.raises(TimeoutError):
        emulator.wait_for_items(count=99, timeout=0.2)
    assert emulator.connection_string == (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=%s;LiveEndpoint=%s/"
        % (emulator.url, emulator.url))


def test_stop_closes_keep_alive_connections():
    import http.client

    from ai_core.emulator import Emulator

    emu = Emulator().start()
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    conn.request("POST", "/v2.1/track", json.dumps(TRACES[:1]), {"Content-Type": "application/json"})
    assert conn.getresponse().read()
    emu.stop()
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("POST", "/v2.1/track", json.dumps(TRACES[:1]),
                     {"Content-Type": "application/json"})
        conn.getresponse()
    conn.close()


def test_other_web_pages_cannot_read_or_clear_the_captured_telemetry(emulator):
    # Any page open in the developer's browser may call 127.0.0.1: only the ingestion
    # endpoint (where browser SDKs post) allows other origins, never the query/control API.
    post_track(emulator.url, TRACES[:1])
    evil = {"Origin": "https://evil.example"}
    for method, path in [("GET", "/api/items"), ("GET", "/api/rejected"), ("OPTIONS", "/api/items"),
                         ("OPTIONS", "/api/faults"), ("GET", "/")]:
        reply = http(method, emulator.url + path, headers=evil)
        assert "Access-Control-Allow-Origin" not in reply.headers, (method, path)
    preflight = http("OPTIONS", emulator.url + "/v2.1/track", headers=evil)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "DELETE" not in preflight.headers["Access-Control-Allow-Methods"]
    reply = post_track(emulator.url, TRACES[:1])
    assert reply.status == 200 and reply.headers["Access-Control-Allow-Origin"] == "*"


def test_a_bad_content_length_is_a_400_not_a_server_error(emulator):
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(emulator.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.putrequest("POST", "/v2.1/track")
    conn.putheader("Content-Length", "twelve")
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 400
    assert b"unreadable body framing" in reply.read()
    conn.close()
