"""The aggregate endpoints behind the viewer's Performance, Failures and Metrics views, over
real HTTP to an in-process emulator, with inputs whose answers are known by hand."""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import overview_data as od
from ai_core.emulator import Emulator
from emulator_fixtures import http, post_track

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc)


@pytest.fixture()
def emu() -> Any:
    with Emulator(port=0, db=":memory:") as emulator:
        yield emulator


def get(emu: Emulator, path: str, **query: Any) -> Any:
    reply = http("GET", emu.url + path + ("?" + urllib.parse.urlencode(query) if query else ""))
    assert reply.status == 200, (reply.status, reply.body)
    return reply.json()


def nearest_rank(values: list, p: float) -> float:
    ordered = sorted(values)
    k = max(1, -(-int(p * len(ordered) * 1000) // 1000))  # ceil(p * n), exact for these n
    return ordered[k - 1]


def test_performance_per_operation_with_percentiles_and_a_time_series(emu: Emulator) -> None:
    home = [float(ms) for ms in range(1, 101)]  # 1..100 ms: p50 50, p95 95, p99 99
    envelopes = [od.request("GET /", ms, T0 + timedelta(seconds=i)) for i, ms in enumerate(home)]
    envelopes += [od.request("GET /", 500, T0 + timedelta(seconds=5), role="admin"),
                  od.request("POST /pay", 40, T0 + timedelta(seconds=99), success=False, code="500")]
    assert post_track(emu.url, envelopes).status == 200

    body = get(emu, "/api/performance", buckets=10)
    ops = {(o["role"], o["name"]): o for o in body["operations"]}
    assert set(ops) == {("shop", "GET /"), ("admin", "GET /"), ("shop", "POST /pay")}
    home_op = ops[("shop", "GET /")]
    assert (home_op["count"], home_op["failed"]) == (100, 0)
    assert (home_op["p50"], home_op["p95"], home_op["p99"]) == (
        nearest_rank(home, .5), nearest_rank(home, .95), nearest_rank(home, .99)) == (50, 95, 99)
    assert home_op["avg_ms"] == 50.5
    assert ops[("shop", "POST /pay")]["failed"] == 1

    # Ten buckets of 9.9 s: every item counted once, in the bucket of its time.
    assert sum(p["count"] for p in body["series"]) == 102
    first = body["series"][0]
    assert first["time"] == od.iso(T0)
    assert first["count"] == 10 + 1  # GET / at 0..9 s plus the admin one at 5 s
    assert first["avg_ms"] == round((sum(home[:10]) + 500) / 11, 3)

    # One operation: the same numbers for it alone.
    one = get(emu, "/api/performance", role="shop", name="GET /")
    assert [o["name"] for o in one["operations"]] == ["GET /"]
    assert sum(p["count"] for p in one["series"]) == 100


def test_dependency_performance_groups_by_target_and_name(emu: Emulator) -> None:
    post_track(emu.url, [
        od.dependency("SELECT products", 4, T0, "shop.db"),
        od.dependency("SELECT products", 8, T0 + timedelta(seconds=1), "shop.db"),
        od.dependency("SELECT products", 30, T0 + timedelta(seconds=2), "reports.db"),
        od.dependency("GET /stock", 12, T0, "inventory:8080", type="HTTP", success=False, code="503"),
    ])
    ops = get(emu, "/api/performance", type="dependency")["operations"]
    rows = {(o["target"], o["name"]): (o["count"], o["failed"], o["p50"], o["dependency_type"]) for o in ops}
    assert rows == {("shop.db", "SELECT products"): (2, 0, 4, "SQL"),
                    ("reports.db", "SELECT products"): (1, 0, 30, "SQL"),
                    ("inventory:8080", "GET /stock"): (1, 1, 12, "HTTP")}
    # The list behind an operation: the items API filters by name and target.
    items = get(emu, "/api/items", type="dependency", name="SELECT products", target="shop.db")["items"]
    assert sorted(i["duration_ms"] for i in items) == [4, 8]


def test_failures_rates_result_codes_and_exception_types(emu: Emulator) -> None:
    envelopes = []
    for i in range(4):
        op = "%032x" % (i + 1)
        failed = i < 3
        envelopes.append(od.request("POST /checkout", 20, T0 + timedelta(minutes=i), success=not failed,
                                    code=("500" if i < 2 else "502") if failed else "200", op=op))
        if failed:
            envelopes.append(od.exception("sqlite3.OperationalError" if i < 2 else "TimeoutError", "boom",
                                          T0 + timedelta(minutes=i), op))
    envelopes.append(od.request("GET /", 5, T0, op="%032x" % 99))
    envelopes.append(od.exception("KeyError", "not in a failed operation", T0, "%032x" % 99))
    post_track(emu.url, envelopes)

    body = get(emu, "/api/failures", buckets=4)
    top = body["operations"][0]
    assert (top["name"], top["count"], top["failed"], top["failure_rate"]) == ("POST /checkout", 4, 3, 0.75)
    assert body["result_codes"] == [{"result_code": "500", "count": 2}, {"result_code": "502", "count": 1}]
    assert body["exception_types"] == [{"exception_type": "sqlite3.OperationalError", "count": 2},
                                       {"exception_type": "TimeoutError", "count": 1}]
    assert [(p["count"], p["failed"]) for p in body["series"]] == [(2, 1), (1, 1), (1, 1), (1, 0)]
    assert body["series"][-1]["failure_rate"] == 0.0
    failed = get(emu, "/api/items", type="request", name="POST /checkout", success="false")["items"]
    assert len(failed) == 3


def test_metrics_names_series_and_splits(emu: Emulator) -> None:
    post_track(emu.url, [
        od.metric("orders_placed", 3, T0, properties={"region": "eu"}),
        od.metric("orders_placed", 2, T0 + timedelta(seconds=30), properties={"region": "us"}, role="api"),
        od.metric("orders_placed", 5, T0 + timedelta(seconds=60), properties={"region": "eu"}),
        od.metric("http.server.duration", 300, T0, count=3, min=50, max=150,
                  properties={"_MS.MetricId": "requests/duration", "request/resultCode": "200"}),
        od.metric("_OTELRESOURCE_", 0, T0, properties={"service.name": "shop"}),
    ])
    names = {m["name"]: m for m in get(emu, "/api/metrics")["metrics"]}
    assert set(names) == {"orders_placed", "http.server.duration"}  # resource rows hidden
    assert names["orders_placed"]["aggregation"] == "sum"
    assert names["orders_placed"]["dimensions"] == ["region"]
    assert names["http.server.duration"]["standard"] == "requests/duration"
    assert names["http.server.duration"]["aggregation"] == "avg"
    assert names["http.server.duration"]["dimensions"] == ["request/resultCode"]
    assert "_OTELRESOURCE_" in {m["name"] for m in get(emu, "/api/metrics", include_resource="true")["metrics"]}

    whole = get(emu, "/api/metrics", name="orders_placed", buckets=2)["groups"]
    assert [(p["sum"], p["count"]) for p in whole[0]["series"]] == [(5, 2), (5, 1)]
    by_region = {g["value"]: [p["sum"] for p in g["series"]]
                 for g in get(emu, "/api/metrics", name="orders_placed", split="region", buckets=2)["groups"]}
    assert by_region == {"eu": [3, 5], "us": [2]}
    by_role = {g["value"] for g in get(emu, "/api/metrics", name="orders_placed", split="role")["groups"]}
    assert by_role == {"shop", "api"}
    hist = get(emu, "/api/metrics", name="http.server.duration")["groups"][0]["series"][0]
    assert (hist["sum"], hist["count"], hist["min"], hist["max"], hist["avg"]) == (300, 3, 50, 150, 100)


def test_bad_aggregate_queries_say_what_is_wrong(emu: Emulator) -> None:
    for path, message in [("/api/performance?type=trace", "type: must be request or dependency"),
                          ("/api/failures?buckets=0", "buckets: must be 1 to 500"),
                          ("/api/metrics?name=x&since=yesterday", "since: not an ISO 8601 date-time")]:
        reply = http("GET", emu.url + path)
        assert reply.status == 400 and message in reply.json()["error"], (path, reply.body)
    empty = get(emu, "/api/performance")
    assert empty["operations"] == [] and empty["series"] == []
