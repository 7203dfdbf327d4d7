"""The emulator's Live Metrics service (QuickPulse ping/post) and its viewer API, over real HTTP.

Payloads are shaped like the service definition's examples (Azure/azure-rest-api-specs,
``specification/applicationinsights/ApplicationInsights.LiveMetrics/examples/2024-04-01-preview``).
"""

from __future__ import annotations

import copy
import gzip
import json
import time
import zlib
from typing import Any, Dict, Optional

import pytest

from ai_core.emulator import live, live_filter
from emulator_fixtures import emulator, http, wait_until  # noqa: F401  (fixtures are used by name)

IKEY = "00000000-0000-0000-0000-000000000000"
QUERY = "?api-version=2024-04-01-preview&ikey=" + IKEY

# The data point of the examples (LiveMetrics_Ping.json / LiveMetrics_Post.json), verbatim.
EXAMPLE_POINT: Dict[str, Any] = {
    "Instance": "server-pc-name",
    "Metrics": [
        {"Name": "\\ApplicationInsights\\Requests/Sec", "Value": 0.9989, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Request Duration", "Value": 2.266, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Requests Failed/Sec", "Value": 0, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Requests Succeeded/Sec", "Value": 0.9989, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Dependency Calls/Sec", "Value": 0, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Dependency Call Duration", "Value": 0, "Weight": 0},
        {"Name": "\\ApplicationInsights\\Dependency Calls Failed/Sec", "Value": 0, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Dependency Calls Succeeded/Sec", "Value": 0, "Weight": 1},
        {"Name": "\\ApplicationInsights\\Exceptions/Sec", "Value": 0, "Weight": 1},
        {"Name": "\\ASP.NET Applications(__Total__)\\Requests In Application Queue", "Value": 0, "Weight": 1},
        {"Name": "\\Memory\\Committed Bytes", "Value": 19902644224, "Weight": 1},
        {"Name": "\\Processor(_Total)\\% Processor Time", "Value": 54.738, "Weight": 1},
    ],
    "Documents": [
        {"DocumentType": "Exception",
         "ExceptionMessage": "Value cannot be null.\r\nParameter name: This exception has properties",
         "ExceptionType": "System.ArgumentNullException",
         "Properties": [{"key": "UserProp2", "value": "UserPropValue2"}, {"key": "DeveloperMode", "value": "true"},
                        {"key": "UserProp1", "value": "UserPropValue1"}]},
        {"DocumentType": "Request", "Duration": "PT0.0010105S", "Name": "GET Home/blablabla",
         "Properties": [{"key": "DeveloperMode", "value": "true"}], "ResponseCode": "404",
         "Url": "http://40.78.109.134/Home/blablabla"},
    ],
    "Timestamp": "2024-02-01T21:36:30.5717105Z",
    "Version": "2.1.0.42",
}


def point(role: str = "shop", instance: str = "host-1", stream: str = "a" * 32, **extra: Any) -> Dict[str, Any]:
    """A full data point as our client sends it (the example plus the identity fields)."""
    p = copy.deepcopy(EXAMPLE_POINT)
    p.update(Instance=instance, RoleName=role, MachineName=instance, StreamId=stream, InvariantVersion=1,
             IsWebApp=False, PerformanceCollectionSupported=True)
    p.update(extra)
    return p


def identity_headers(role: str = "shop", instance: str = "host-1", stream: str = "a" * 32) -> Dict[str, str]:
    return {"x-ms-qps-stream-id": stream, "x-ms-qps-machine-name": instance, "x-ms-qps-instance-name": instance,
            "x-ms-qps-role-name": role, "x-ms-qps-invariant-version": "1",
            "x-ms-qps-transmission-time": "638422471817023737"}


def ping(emu, body: Any = None, etag: Optional[str] = None, role: str = "shop", instance: str = "host-1",
         query: str = QUERY, path: str = "/QuickPulseService.svc/ping", headers: Optional[Dict[str, str]] = None,
         stream: str = "a" * 32):
    h = {"Content-Type": "application/json", **identity_headers(role, instance, stream)}
    if etag is not None:
        h["x-ms-qps-configuration-etag"] = etag
    h.update(headers or {})
    data = body if isinstance(body, bytes) else json.dumps(point(role, instance, stream) if body is None else body).encode()
    return http("POST", emu.url + path + query, data, h)


def post(emu, points: Any = None, etag: Optional[str] = None, query: str = QUERY, **kw: Any):
    body = [point(**kw)] if points is None else points
    h = {"Content-Type": "application/json"}
    if etag is not None:
        h["x-ms-qps-configuration-etag"] = etag
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http("POST", emu.url + "/QuickPulseService.svc/post" + query, data, h)


def viewer(emu, action: str, body: Any = None):
    return http("POST", emu.url + "/api/live/" + action, {} if body is None else body)


def snapshot(emu, **query: Any) -> Dict[str, Any]:
    qs = "&".join("%s=%s" % kv for kv in query.items())
    reply = http("GET", emu.url + "/api/live" + ("?" + qs if qs else ""))
    assert reply.status == 200, reply.body
    return reply.json()


def subscribed(reply) -> bool:
    assert reply.status == 200, reply.body
    return reply.headers["x-ms-qps-subscribed"] == "true"


# -- subscription -------------------------------------------------------------------------------

def test_ping_is_unsubscribed_until_a_viewer_watches_and_again_after_it_stops(emulator):
    first = ping(emulator)
    assert not subscribed(first)
    assert first.headers["x-ms-qps-service-polling-interval-hint"] == "1000"
    assert first.headers["x-ms-qps-configuration-etag"]
    assert snapshot(emulator)["subscribed"] is False

    assert viewer(emulator, "subscribe").json()["subscribed"] is True  # the Live tab opened
    reply = ping(emulator)
    assert subscribed(reply)
    assert "x-ms-qps-service-polling-interval-hint" not in reply.headers
    assert subscribed(post(emulator))
    assert snapshot(emulator)["subscribed"] is True

    # The tab closed: nobody says so, the subscription lapses within seconds.
    wait_until(lambda: not subscribed(ping(emulator)), what="unsubscribed after the viewer stopped")
    assert not subscribed(post(emulator))  # a post is told to go back to pinging


def test_a_viewer_that_keeps_asking_keeps_the_apps_posting(emulator):
    viewer(emulator, "subscribe")
    started = time.monotonic()
    while time.monotonic() - started < live.SUBSCRIPTION_TTL_S * 1.5:
        viewer(emulator, "subscribe")
        assert subscribed(post(emulator))
        time.sleep(0.5)


# -- configuration and ETag ---------------------------------------------------------------------

def test_the_configuration_comes_with_a_new_etag_and_only_when_it_changed(emulator):
    first = ping(emulator)
    etag = first.headers["x-ms-qps-configuration-etag"]
    config = first.json()
    assert config["ETag"] == etag and config["Metrics"] == []
    # The portal's default stream: failed requests and dependencies, every exception, event, trace.
    [stream] = config["DocumentStreams"]
    groups = {g["TelemetryType"]: g["Filters"]["Filters"] for g in stream["DocumentFilterGroups"]}
    assert groups == {"Request": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}],
                      "Dependency": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}],
                      "Exception": [], "Event": [], "Trace": []}

    same = ping(emulator, etag=etag)
    assert same.status == 200 and same.body == b""  # the app's configuration is current
    assert same.headers["x-ms-qps-configuration-etag"] == etag
    assert post(emulator, etag=etag).body == b""

    reply = viewer(emulator, "filter", {"filter": "dependencies where Duration > 500 and Target contains db"})
    assert reply.status == 200, reply.body
    changed = ping(emulator, etag=etag)
    new_etag = changed.headers["x-ms-qps-configuration-etag"]
    assert new_etag != etag and changed.json()["ETag"] == new_etag
    [stream] = changed.json()["DocumentStreams"]
    assert stream["Id"] != config["DocumentStreams"][0]["Id"]
    assert stream["DocumentFilterGroups"] == [{"TelemetryType": "Dependency", "Filters": {"Filters": [
        {"FieldName": "Duration", "Predicate": "GreaterThan", "Comparand": "0.0:0:0.5"},
        {"FieldName": "Target", "Predicate": "Contains", "Comparand": "db"}]}}]
    # Posts get the change too (an app that is already posting must not wait for a ping).
    assert post(emulator, etag=etag).json()["ETag"] == new_etag
    assert post(emulator, etag=new_etag).body == b""


def test_role_conditions_choose_which_apps_get_a_group(emulator):
    viewer(emulator, "filter", {"filter": "requests where Success = false and role = shop"})
    shop, other = ping(emulator, role="shop"), ping(emulator, role="inventory")
    assert shop.json()["DocumentStreams"][0]["DocumentFilterGroups"] == [{"TelemetryType": "Request", "Filters": {
        "Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}}]
    assert other.json()["DocumentStreams"] == []  # nothing to send
    assert shop.headers["x-ms-qps-configuration-etag"] != other.headers["x-ms-qps-configuration-etag"]
    summary = snapshot(emulator)["configuration"]
    assert summary["filter"] == "requests where Success = false and role = shop"
    assert summary["groups"][0]["Servers"] == [{"Field": "role", "Predicate": "Equal", "Comparand": "shop"}]


def test_an_empty_filter_restores_the_default_stream(emulator):
    viewer(emulator, "filter", {"filter": "traces"})
    assert [g["TelemetryType"] for g in ping(emulator).json()["DocumentStreams"][0]["DocumentFilterGroups"]] == ["Trace"]
    viewer(emulator, "filter", {"filter": "  "})
    assert len(ping(emulator).json()["DocumentStreams"][0]["DocumentFilterGroups"]) == 5


def test_a_filter_that_cannot_be_read_is_a_400_naming_the_problem(emulator):
    for text, words in [("queries where x = 1", "start with what to show"),
                        ("requests where Colour = red", "have no field 'Colour'"),
                        ("requests where Duration > soon", "Duration is in milliseconds"),
                        ("requests where Success = maybe", "true or false"),
                        ("requests where Name > b", "compares as text"),
                        ("requests Success = false", "write 'where'")]:
        reply = viewer(emulator, "filter", {"filter": text})
        assert reply.status == 400, text
        assert words in reply.json()["error"], (text, reply.json())
    assert viewer(emulator, "filter", {"nofilter": 1}).status == 400
    assert snapshot(emulator)["configuration"]["filter"] == ""  # unchanged


def test_charts_of_your_own_go_to_the_apps_as_derived_metrics(emulator):
    etag = ping(emulator).headers["x-ms-qps-configuration-etag"]
    reply = viewer(emulator, "charts", {"charts": "count of requests where Success = false; "
                                                  "avg Duration of dependencies where Target contains inv and role = shop"})
    assert reply.status == 200, reply.body
    shop = ping(emulator, etag=etag, role="shop")
    assert shop.headers["x-ms-qps-configuration-etag"] != etag
    first, second = shop.json()["Metrics"]
    assert first == {"Id": first["Id"], "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
                     "BackEndAggregation": "Sum", "FilterGroups": [{"Filters": [
                         {"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}]}
    assert second["Projection"] == "Duration" and second["Aggregation"] == "Avg"
    assert second["FilterGroups"] == [{"Filters": [{"FieldName": "Target", "Predicate": "Contains", "Comparand": "inv"}]}]
    assert [m["Id"] for m in ping(emulator, role="inventory").json()["Metrics"]] == [first["Id"]]
    # The document streams did not change, nor did the feed's stream id.
    assert shop.json()["DocumentStreams"][0]["Id"] == snapshot(emulator)["configuration"]["document_stream_id"]
    charts = snapshot(emulator)["configuration"]["charts"]
    assert [c["Label"] for c in charts] == ["count of requests where Success = false",
                                            "avg Duration of dependencies where Target contains inv and role = shop"]
    # The values the apps compute arrive as metrics named by the chart's Id.
    post(emulator, Metrics=[{"Name": first["Id"], "Value": 3, "Weight": 1}])
    [shop_stream] = snapshot(emulator, role="shop")["streams"]
    assert shop_stream["points"][-1]["metrics"] == {first["Id"]: 3.0}
    viewer(emulator, "charts", {"charts": ""})
    assert ping(emulator).json()["Metrics"] == []


@pytest.mark.parametrize("text,words", [
    ("median Duration of requests", "a chart is"),
    ("avg Duration of exceptions", "only requests and dependencies have a Duration"),
    ("count Duration of requests", "count counts items"),
    ("avg of requests", "avg of what?"),
    ("sum Name of requests", "Duration or CustomDimensions"),
    ("count of gadgets", "start with what to show"),
])
def test_a_chart_that_cannot_be_read_is_a_400(emulator, text, words):
    reply = viewer(emulator, "charts", {"charts": text})
    assert reply.status == 400 and words in reply.json()["error"], reply.json()


def test_a_cross_site_form_cannot_subscribe_or_change_the_filter(emulator):
    for action, body in [("subscribe", b""), ("filter", b'{"filter": "traces"}'), ("charts", b'{"charts": "count of requests"}')]:
        reply = http("POST", emulator.url + "/api/live/" + action, body, {"Content-Type": "text/plain"})
        assert reply.status == 403
    assert snapshot(emulator)["subscribed"] is False


# -- what the apps sent ---------------------------------------------------------------------------

def test_the_example_data_point_is_accepted_and_shown(emulator):
    # The example's body has no role or stream id: the headers (pings) or nothing identify it.
    reply = post(emulator, [EXAMPLE_POINT])
    assert reply.status == 200, reply.body
    [stream] = snapshot(emulator)["streams"]
    assert stream["instance"] == "server-pc-name" and stream["role"] == "" and stream["version"] == "2.1.0.42"
    [p] = stream["points"]
    assert p["metrics"]["\\ApplicationInsights\\Requests/Sec"] == 0.9989
    assert p["metrics"]["\\Memory\\Committed Bytes"] == 19902644224
    docs = snapshot(emulator)["documents"]
    assert [d["type"] for d in docs] == ["Exception", "Request"]
    assert docs[1]["document"]["Duration"] == "PT0.0010105S"


def test_points_are_charted_at_the_apps_timestamp_when_plausible(emulator):
    from datetime import datetime, timedelta, timezone

    stamp = datetime.now(timezone.utc) - timedelta(seconds=2)
    post(emulator, Timestamp=stamp.strftime("%Y-%m-%dT%H:%M:%S.%f") + "1Z")  # 7 digits, as .NET writes
    post(emulator, stream="b" * 32)  # the example's 2024 Timestamp: implausible, the time received
    streams = {s["stream_id"]: s for s in snapshot(emulator)["streams"]}
    assert streams["a" * 32]["points"][0]["time"] == stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    received = datetime.strptime(streams["b" * 32]["points"][0]["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(received.replace(tzinfo=timezone.utc) - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_streams_are_kept_per_role_instance_and_stream_id(emulator):
    viewer(emulator, "subscribe")
    for role, instance, stream in [("shop", "w1", "1" * 32), ("shop", "w2", "2" * 32), ("inventory", "w1", "3" * 32)]:
        ping(emulator, role=role, instance=instance, stream=stream)
        post(emulator, role=role, instance=instance, stream=stream)
    streams = snapshot(emulator)["streams"]
    assert sorted((s["role"], s["instance"], s["stream_id"]) for s in streams) == [
        ("inventory", "w1", "3" * 32), ("shop", "w1", "1" * 32), ("shop", "w2", "2" * 32)]
    assert all(s["state"] == "posting" and len(s["points"]) == 1 for s in streams)
    assert {s["role"] for s in snapshot(emulator, role="inventory")["streams"]} == {"inventory"}


def test_the_feed_is_read_after_the_last_document_seen(emulator):
    post(emulator)
    first = snapshot(emulator)
    assert len(first["documents"]) == 2 and first["last_seq"] == 2
    post(emulator)
    later = snapshot(emulator, after_seq=first["last_seq"])
    assert [d["seq"] for d in later["documents"]] == [3, 4]
    assert later["documents"][0]["role"] == "shop" and later["documents"][0]["instance"] == "host-1"


def test_configuration_errors_an_app_reports_are_shown(emulator):
    error = {"CollectionConfigurationErrorType": "DocumentStreamFailureToCreateFilterUnexpected",
             "Message": "Requests have no field Colour", "FullException": "",
             "Data": [{"key": "ETag", "value": "x"}]}
    post(emulator, CollectionConfigurationErrors=[error])
    assert snapshot(emulator)["streams"][0]["configuration_errors"] == [error]


def test_a_gzip_post_is_read(emulator):
    body = gzip.compress(json.dumps([point()]).encode())
    reply = http("POST", emulator.url + "/QuickPulseService.svc/post" + QUERY, body,
                 {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert reply.status == 200
    assert len(snapshot(emulator)["streams"]) == 1


@pytest.mark.parametrize("path", ["/QuickPulseService.svc/ping", "//QuickPulseService.svc/ping",
                                  "/prefix/QuickPulseService.svc/ping"])
def test_endpoint_paths_like_track(emulator, path):
    assert ping(emulator, path=path).status == 200


# -- bad input ----------------------------------------------------------------------------------

BAD_BODIES = [
    (b"{not json", "not valid JSON"),
    (b'"a string"', "MonitoringDataPoint object or an array"),
    (b"[1]", "body[0]: a MonitoringDataPoint must be a JSON object"),
    (json.dumps([dict(point(), Metrics={"Name": "x"})]).encode(), "body[0].Metrics: must be an array"),
    (json.dumps([dict(point(), Metrics=[{"Name": "x", "Value": "1"}])]).encode(), "Metrics[0].Value: must be a finite number"),
    (json.dumps([dict(point(), Metrics=[{"Value": 1}])]).encode(), "Metrics[0]: must be an object with a string Name"),
    (json.dumps([dict(point(), Documents=[{"Name": "x"}])]).encode(), "Documents[0]: must be an object with a DocumentType"),
    (json.dumps([dict(point(), Documents=[{"DocumentType": "Trace", "Properties": {"a": "b"}}])]).encode(),
     "Documents[0].Properties: must be an array"),
    (json.dumps([dict(point(), StreamId=7)]).encode(), "body[0].StreamId: must be a string"),
    (json.dumps([dict(point(), IsWebApp="no")]).encode(), "body[0].IsWebApp: must be true or false"),
    (b"", "body is empty"),
    (b"[]", "empty array"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"\xff\xfe{}", "not UTF-8"),
    (json.dumps([point(role="shop\ud800")]).encode(), "lone surrogate"),  # JSON "\ud800": not Unicode
]


@pytest.mark.parametrize("body,words", BAD_BODIES, ids=[w for _, w in BAD_BODIES])
def test_a_bad_post_body_is_a_400_in_the_service_error_shape(emulator, body, words):
    reply = post(emulator, body)
    assert reply.status == 400, reply.body[:300]
    error = reply.json()
    assert set(error) == {"RequestId", "ResponseDateTime", "Code", "Message", "Exception"}
    assert error["Code"] == "InvalidInput" and words in error["Message"], error
    assert snapshot(emulator)["streams"] == []


def test_a_ping_may_have_no_body_but_not_a_bad_one(emulator):
    assert ping(emulator, b"").status == 200
    assert ping(emulator, b"{").status == 400
    assert ping(emulator, {"Metrics": 3}).status == 400


@pytest.mark.parametrize("query", ["?api-version=2024-04-01-preview", QUERY.replace(IKEY, "garbage"), ""])
def test_an_ikey_that_is_no_guid_is_a_400(emulator, query):
    reply = ping(emulator, query=query)
    assert reply.status == 400
    assert "iKey is garbage or not in a valid GUID format" in reply.json()["Message"]


def test_a_live_gzip_bomb_is_a_413(emulator):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join([packer.compress(b" " * (1 << 20)) for _ in range(16)] + [packer.flush()])
    reply = http("POST", emulator.url + "/QuickPulseService.svc/post" + QUERY, bomb,
                 {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert reply.status == 413


def test_only_post_is_allowed(emulator):
    assert http("GET", emulator.url + "/QuickPulseService.svc/ping" + QUERY).status == 405


# -- bounds (in-process, with a fake clock) -------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def handle(service: live.LiveService, operation: str, body: Any, **headers: str) -> live.LiveReply:
    return service.handle(operation, {"ikey": [IKEY]}, headers, json.dumps(body).encode())


def test_only_the_last_minute_of_points_is_kept_and_bounded():
    clock = Clock()
    service = live.LiveService(clock=clock)
    for _ in range(live.MAX_POINTS + 30):
        handle(service, "post", [point()])
        clock.now += 0.25
    [stream] = service.snapshot()["streams"]
    assert len(stream["points"]) == live.MAX_POINTS
    clock.now += live.WINDOW_S + 1
    assert service.snapshot()["streams"][0]["points"] == []


def test_apps_and_documents_are_bounded():
    service = live.LiveService(clock=Clock())
    for i in range(live.MAX_STREAMS + 5):
        handle(service, "ping", point(instance="w%d" % i, stream="%032d" % i))
    streams = service.snapshot()["streams"]
    assert len(streams) == live.MAX_STREAMS
    assert "w0" not in {s["instance"] for s in streams}  # the one heard from longest ago went
    many = [{"DocumentType": "Trace", "Message": "m%d" % i} for i in range(live.MAX_DOCUMENTS_PER_POST + 7)]
    for _ in range(live.MAX_DOCUMENTS // live.MAX_DOCUMENTS_PER_POST + 2):
        handle(service, "post", [point(Documents=many)])
    snap = service.snapshot()
    assert len(snap["documents"]) == live.MAX_DOCUMENTS
    assert snap["dropped_documents"] == 7 * (live.MAX_DOCUMENTS // live.MAX_DOCUMENTS_PER_POST + 2)


def test_an_oversized_document_is_dropped_and_counted():
    service = live.LiveService(clock=Clock())
    huge = {"DocumentType": "Trace", "Message": "x" * (live.MAX_DOCUMENT_BYTES + 1)}
    handle(service, "post", [point(Documents=[huge, {"DocumentType": "Trace", "Message": "small"}])])
    snap = service.snapshot()
    assert [d["document"]["Message"] for d in snap["documents"]] == ["small"]
    assert snap["dropped_documents"] == 1


def test_apps_not_heard_from_for_ten_minutes_are_forgotten():
    clock = Clock()
    service = live.LiveService(clock=clock)
    handle(service, "ping", point())
    clock.now += live.STREAM_FORGOTTEN_S + 1
    assert service.snapshot()["streams"] == []


# -- the filter language (a table) ------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("requests where Success = false", [("Request", [("Success", "Equal", "false")])]),
    ("dependencies where Duration > 500", [("Dependency", [("Duration", "GreaterThan", "0.0:0:0.5")])]),
    ("dependencies where duration >= 1.5s", [("Dependency", [("Duration", "GreaterThanOrEqual", "0.0:0:1.5")])]),
    ("requests where Duration > 90061000ms", [("Request", [("Duration", "GreaterThan", "1.1:1:1")])]),
    ("requests where ResponseCode >= 500 or exceptions where Message contains timeout",
     [("Request", [("ResponseCode", "GreaterThanOrEqual", "500")]),
      ("Exception", [("Exception.Message", "Contains", "timeout")])]),
    ("traces where CustomDimensions.tenant = acme; events", [("Trace", [("CustomDimensions.tenant", "Equal", "acme")]),
                                                            ("Event", [])]),
    ('requests where Name = "GET /a and b"', [("Request", [("Name", "Equal", "GET /a and b")])]),
    ("requests where url !contains health", [("Request", [("Url", "DoesNotContain", "health")])]),
    ("requests where * contains bob", [("Request", [("*", "Contains", "bob")])]),
])
def test_filter_text_to_groups(text, expected):
    groups = live_filter.parse(text)
    assert [(g.telemetry_type, [(f["FieldName"], f["Predicate"], f["Comparand"]) for f in g.filters])
            for g in groups] == expected


@pytest.mark.parametrize("text,expected", [
    ("count of requests", [("Request", "Count()", "Sum", [])]),
    ("max CustomDimensions.amount of events where CustomDimensions.plan = gold",
     [("Event", "CustomDimensions.amount", "Max", [("CustomDimensions.plan", "Equal", "gold")])]),
    ("min duration of dependencies; average Duration of requests where Duration > 1s",
     [("Dependency", "Duration", "Min", []), ("Request", "Duration", "Avg", [("Duration", "GreaterThan", "0.0:0:1")])]),
])
def test_chart_text_to_derived_metrics(text, expected):
    assert [(c.group.telemetry_type, c.projection, c.aggregation,
             [(f["FieldName"], f["Predicate"], f["Comparand"]) for f in c.group.filters])
            for c in live_filter.parse_charts(text)] == expected


def test_role_and_instance_conditions_are_server_choices():
    [group] = live_filter.parse("requests where role = shop and instance contains web and Success = false")
    assert group.servers == [("role", "Equal", "shop"), ("instance", "Contains", "web")]
    assert group.sent_to("shop", "web-1") and not group.sent_to("shop", "worker") and not group.sent_to("x", "web")
