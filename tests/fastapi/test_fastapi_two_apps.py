"""Two FastAPI apps in one process, each with ApplicationInsightsMiddleware and a role of its own:
served side by side (either one starting first, one without a lifespan) or one mounted in
the other. Each request is traced once and counted once in ``requests/duration``, and the
request, its SQL dependency and its log record carry the role of the app that served it
(README, "Where the role name comes from")."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

TWO_APPS = """
import logging, sqlite3
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fastapi_ai import ApplicationInsightsMiddleware
from ai_core.configure import current

OPTIONS = dict(connection_string={cs!r}, disable_offline_storage=True)

def make(title, role, prefix):
    app = FastAPI(title=title)

    @app.get(prefix + "/{{key}}")
    def one(key: int):
        conn = sqlite3.connect(":memory:")
        conn.execute("SELECT 1").fetchall()
        conn.close()
        logging.getLogger(title).warning("served %s", key)
        return {{"key": key}}

    app.add_middleware(ApplicationInsightsMiddleware, role_name=role, **OPTIONS)
    return app

shop = make("Shop", "shop", "/items")
office = make("Office", "back-office", "/orders")
layout = {layout!r}
if layout == "mounted":
    shop.mount("/office", office)
    with TestClient(shop) as client:  # only the outer app gets the lifespan
        for i in range(4):
            assert client.get("/items/%d" % i).status_code == 200
        for i in range(3):
            assert client.get("/office/orders/%d" % i).status_code == 200
else:
    first, second = (shop, office) if layout == "shop-first" else (office, shop)
    with TestClient(first) as with_lifespan:  # the first app configures the process
        without_lifespan = TestClient(second)  # the second starts at its first request
        clients = {{shop: with_lifespan if first is shop else without_lifespan,
                   office: with_lifespan if first is office else without_lifespan}}
        for i in range(4):
            assert clients[shop].get("/items/%d" % i).status_code == 200
        for i in range(3):
            assert clients[office].get("/orders/%d" % i).status_code == 200
assert current() is None  # the lifespan shutdown delivered everything and stopped
"""

SHOP_REQUESTS = 4
OFFICE_REQUESTS = 3


def _served(layout: str) -> List[Dict[str, Any]]:
    with Emulator(port=0, db=":memory:") as emu:
        out = run_python(TWO_APPS.format(cs=emu.connection_string, layout=layout), timeout=120)
        assert out.returncode == 0, out.stderr
        return [item["envelope"] for item in emu.items(limit=10000)]


def _kind(envelope: Dict[str, Any]) -> str:
    return envelope["data"]["baseType"]


def _operation_roles(envelopes: List[Dict[str, Any]], base_type: str) -> Dict[str, set]:
    roles: Dict[str, set] = {}
    for env in envelopes:
        if _kind(env) == base_type:
            roles.setdefault(env["tags"].get("ai.operation.name"), set()).add(env["tags"]["ai.cloud.role"])
    return roles


@pytest.fixture(scope="module", params=["shop-first", "office-first", "mounted"])
def served(request: Any) -> Any:
    return request.param, _served(request.param)


def _office_operation(layout: str) -> str:
    return "GET /office/orders/{key}" if layout == "mounted" else "GET /orders/{key}"


def test_each_app_sends_its_own_role_on_requests_dependencies_and_logs(served: Any) -> None:
    layout, envelopes = served
    office = _office_operation(layout)
    expected = {"GET /items/{key}": {"shop"}, office: {"back-office"}}
    requests = [e for e in envelopes if _kind(e) == "RequestData"]
    assert {(e["data"]["baseData"]["name"], e["tags"]["ai.cloud.role"]) for e in requests} == {
        ("GET /items/{key}", "shop"), (office, "back-office")}
    assert _operation_roles(envelopes, "RemoteDependencyData") == expected
    assert _operation_roles(envelopes, "MessageData") == expected


def test_each_request_is_traced_once_and_counted_once(served: Any) -> None:
    layout, envelopes = served
    total = SHOP_REQUESTS + OFFICE_REQUESTS
    requests = [e for e in envelopes if _kind(e) == "RequestData"]
    dependencies = [e for e in envelopes if _kind(e) == "RemoteDependencyData"]
    assert len(requests) == total
    # One SQL query per request and nothing else: FastAPI's own tracing recorded nothing.
    assert [d["data"]["baseData"]["type"] for d in dependencies] == ["SQL"] * total, json.dumps(dependencies)[:2000]
    durations = [
        e for e in envelopes
        if _kind(e) == "MetricData" and e["data"]["baseData"]["properties"].get("_MS.MetricId") == "requests/duration"
    ]
    counted = {}
    for env in durations:
        metric = env["data"]["baseData"]["metrics"][0]
        counted[metric["name"]] = counted.get(metric["name"], 0) + metric["count"]
    assert sum(counted.values()) == total, counted


@pytest.mark.parametrize("lifespan", ["shop", "office"])
def test_under_uvicorn_each_request_is_traced_and_counted_once_with_its_apps_role(tmp_path: Any, lifespan: str) -> None:
    from fastapi_site import app_env, free_port, request, start, stop, wait_until_serving

    with Emulator(port=0, db=":memory:") as emu:
        env = app_env(None, tmp_path / "storage")
        env.update(TWOAPPS_CONNECTION_STRING=emu.connection_string, TWOAPPS_STORAGE=str(tmp_path / "storage"),
                   TWOAPPS_LIFESPAN=lifespan)
        port = free_port()
        proc = start([*_uvicorn(port)], env)
        try:
            wait_until_serving(port, proc)
            for i in range(SHOP_REQUESTS):
                assert request(port, "GET", "/items/%d" % i)[0] == 200
            for i in range(OFFICE_REQUESTS):
                assert request(port, "GET", "/orders/%d" % i)[0] == 200
        finally:
            stop(proc)  # the lifespan shutdown delivers everything
        envelopes = [item["envelope"] for item in emu.items(limit=10000)]
    total = SHOP_REQUESTS + OFFICE_REQUESTS
    requests = [e for e in envelopes if _kind(e) == "RequestData"]
    assert sorted((e["data"]["baseData"]["name"], e["tags"]["ai.cloud.role"]) for e in requests) == sorted(
        [("GET /items/{key}", "shop")] * SHOP_REQUESTS + [("GET /orders/{key}", "back-office")] * OFFICE_REQUESTS)
    assert [e["data"]["baseData"]["type"] for e in envelopes if _kind(e) == "RemoteDependencyData"] == ["SQL"] * total
    assert _operation_roles(envelopes, "RemoteDependencyData") == {
        "GET /items/{key}": {"shop"}, "GET /orders/{key}": {"back-office"}}
    counted = sum(
        e["data"]["baseData"]["metrics"][0]["count"] for e in envelopes
        if _kind(e) == "MetricData" and e["data"]["baseData"]["properties"].get("_MS.MetricId") == "requests/duration"
    )
    assert counted == total


def _uvicorn(port: int) -> List[str]:
    from fastapi_site import BIN

    return [str(BIN / "uvicorn"), "twoapps:app", "--port", str(port), "--no-access-log"]
