"""fastapi_ai under uvicorn with two worker processes, real HTTP in, telemetry read back from
the emulator after a graceful stop: what a FastAPI developer would look for in the portal."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from fastapi_site import Served, app_env, free_port, start, stop, uvicorn, wait_until_serving

DEPENDENCY = "RemoteDependencyData"
EXCEPTION = "ExceptionData"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fastapi-uvicorn")
    with Emulator(port=0, db=":memory:") as emu:
        env = app_env(emu.connection_string, tmp / "storage", trusted_proxies=1, logging_level="INFO",
                      excluded_routes=["health"], excluded_urls=["^/skip/"])
        env["ORDERSAPP_DB"] = str(tmp / "orders.db")
        port = free_port()
        proc = start(uvicorn(port, "--workers", "2"), env)
        s = Served(emu)
        try:
            wait_until_serving(port, proc)
            s.get(port, "route", "/api/orders/1")
            s.get(port, "missing", "/api/orders/999")
            s.get(port, "method", "/api/orders/1", method="DELETE")
            s.get(port, "unmatched", "/no/such/page")
            s.get(port, "mounted", "/sub/ping/7")
            s.get(port, "http500", "/api/orders/1/broken")
            s.get(port, "fail", "/fail")
            s.get(port, "health", "/health")
            s.get(port, "skipurl", "/skip/this")
            s.get(port, "query", "/api/orders/1?next=/skip/this")
            s.get(port, "spoofed", "/api/orders/1", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
            s.get(port, "stream", "/stream")
            s.get(port, "checkout", "/checkout")
            s.get(port, "log", "/log")
            s.get(port, "account", "/account", headers={"Authorization": "Bearer alice"})
            s.get(port, "anonymous", "/account")
            s.websocket_replies = _chat(port)
        finally:
            s.server_output = stop(proc)  # uvicorn re-raises SIGTERM: only the lifespan shutdown can flush
        yield s


def _chat(port: int) -> list:
    """A WebSocket session over real uvicorn (its ``websockets`` protocol): two answers, then bye."""
    from websockets.sync.client import connect

    with connect("ws://127.0.0.1:%d/ws/lobby" % port, open_timeout=60) as ws:
        replies = []
        for text in ("hello", "again"):
            ws.send(text)
            replies.append(ws.recv(timeout=60))
        ws.send("bye")
    return replies


def test_a_websocket_session_over_uvicorn_is_one_request_covering_the_session(served: Served) -> None:
    assert served.websocket_replies == ["lobby: hello", "lobby: again"], served.server_output
    sessions = [i["envelope"] for i in served.emu.items(type="request", limit=1000)
                if i["envelope"]["data"]["baseData"]["name"] == "GET /ws/{room}"]
    assert len(sessions) == 1, [i["envelope"]["data"]["baseData"]["name"] for i in served.emu.items(type="request")]
    data = sessions[0]["data"]["baseData"]
    assert data["responseCode"] == "101" and data["success"] is True
    seconds = float(data["duration"].split(":")[-1])
    assert seconds >= 0.4  # the app answered twice, each after 0.2 s: the duration is the session's
    items = served.emu.operation(sessions[0]["tags"]["ai.operation.id"])
    assert [i["type"] for i in items] == ["request"]  # no per-message send/receive spans


def test_every_request_was_answered_as_the_app_means(served: Served) -> None:
    assert served.status == {
        "route": 200, "missing": 404, "method": 405, "unmatched": 404, "mounted": 200, "http500": 500,
        "fail": 500, "health": 200, "skipurl": 200, "query": 200, "spoofed": 200, "stream": 200,
        "checkout": 200, "log": 200, "account": 200, "anonymous": 200,
    }, served.server_output
    assert served.bodies["account"] == b'{"user":"alice"}'


def test_one_request_item_per_http_request_and_no_send_or_receive_spans(served: Served) -> None:
    for key in served.tokens:
        if key not in ("health", "skipurl"):
            served.request_of(key)  # exactly one each: FastAPI's own tracing stepped aside
    requests = served.emu.items(type="request", limit=1000)
    assert len(requests) == len(served.tokens) - 2 + 1  # + the WebSocket session
    names = [d["envelope"]["data"]["baseData"]["name"] for d in served.emu.items(type="dependency", limit=1000)]
    assert not [n for n in names if n.endswith((" send", " receive"))], names


@pytest.mark.parametrize("key, name", [
    ("route", "GET /api/orders/{order_id}"),  # router prefixes included
    ("missing", "GET /api/orders/{order_id}"),  # HTTPException(404) of a matched route keeps the route
    ("method", "DELETE /api/orders/{order_id}"),  # 405: the route is known
    ("unmatched", "GET /<not found>"),  # never the raw path
    ("mounted", "GET /sub/ping/{n}"),  # a mounted FastAPI app: its prefix and its own route
])
def test_requests_are_named_by_route_template(served: Served, key: str, name: str) -> None:
    env = served.request_of(key)
    assert env["data"]["baseData"]["name"] == name
    assert env["tags"]["ai.operation.name"] == name


def test_sql_is_a_dependency_of_its_request(served: Served) -> None:
    deps = [e for e in served.operation("route") if e["data"]["baseType"] == DEPENDENCY]
    assert deps and any("FROM orders" in d["data"]["baseData"].get("data", "") for d in deps)
    assert all(d["tags"]["ai.operation.name"] == "GET /api/orders/{order_id}" for d in deps)


def test_an_uncaught_exception_is_one_exception_on_a_500_request(served: Served) -> None:
    request = served.request_of("fail")["data"]["baseData"]
    assert request["responseCode"] == "500" and request["success"] is False
    exceptions = [e for e in served.operation("fail") if e["data"]["baseType"] == EXCEPTION]
    assert len(exceptions) == 1
    assert exceptions[0]["data"]["baseData"]["exceptions"][0]["message"] == "the teapot broke"


def test_http_exception_500_is_a_failed_request_without_an_exception_item(served: Served) -> None:
    request = served.request_of("http500")["data"]["baseData"]
    assert request["responseCode"] == "500" and request["success"] is False
    assert [e for e in served.operation("http500") if e["data"]["baseType"] == EXCEPTION] == []


@pytest.mark.parametrize("key", ["missing", "unmatched", "method"])
def test_http_exception_404_is_an_answer_not_an_exception(served: Served, key: str) -> None:
    assert served.request_of(key)["data"]["baseData"]["responseCode"] == str(served.status[key])
    assert [e for e in served.operation(key) if e["data"]["baseType"] == EXCEPTION] == []


@pytest.mark.parametrize("key", ["health", "skipurl"])
def test_excluded_routes_and_urls_send_nothing_not_even_their_sql(served: Served, key: str) -> None:
    assert served.nothing_for(key)
    # Their SQL carries no token: no dependency may exist outside a request we know.
    ops = {i["envelope"]["tags"].get("ai.operation.id") for i in served.emu.items(type="request", limit=1000)}
    stray = [i["envelope"]["data"]["baseData"].get("data") for i in served.emu.items(type="dependency", limit=1000)
             if i["envelope"]["tags"].get("ai.operation.id") not in ops]
    assert stray == []


def test_the_query_string_never_excludes(served: Served) -> None:
    assert served.request_of("query")["data"]["baseData"]["name"] == "GET /api/orders/{order_id}"


def test_client_ip_is_the_last_untrusted_hop_not_the_spoofed_one(served: Served) -> None:
    assert served.request_of("spoofed")["tags"]["ai.location.ip"] == "203.0.113.9"
    assert served.request_of("anonymous")["tags"]["ai.location.ip"] == "127.0.0.1"


def test_the_signed_in_user_of_authentication_middleware_is_the_authenticated_user(served: Served) -> None:
    assert served.request_of("account")["tags"]["ai.user.authUserId"] == "alice"
    assert "ai.user.authUserId" not in served.request_of("anonymous")["tags"]


def test_a_streamed_body_is_inside_the_request_duration(served: Served) -> None:
    assert _seconds(served.request_of("stream")["data"]["baseData"]["duration"]) >= 0.9  # 3 x 0.3 s


def test_a_background_task_belongs_to_the_request_but_does_not_stretch_it(served: Served) -> None:
    request = served.request_of("checkout")
    assert _seconds(request["data"]["baseData"]["duration"]) < 0.6  # the task sleeps 0.6 s first
    items = served.operation("checkout")
    deps = [e for e in items if e["data"]["baseType"] == DEPENDENCY]
    assert any("count(*)" in d["data"]["baseData"].get("data", "") for d in deps)  # the task's query
    traces = [e for e in items if e["data"]["baseType"] == "MessageData"]
    assert [t["data"]["baseData"]["message"] for t in traces] == ["bookkeeping done %s" % served.tokens["checkout"]]
    assert all(e["tags"]["ai.operation.name"] == "GET /checkout" for e in items)


def test_log_records_arrive_once_with_their_request(served: Served) -> None:
    traces = [i["envelope"] for i in served.emu.items(type="trace", q=served.tokens["log"])]
    assert len(traces) == 1
    request = served.request_of("log")
    assert traces[0]["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    assert traces[0]["tags"]["ai.operation.name"] == "GET /log"
    assert traces[0]["tags"]["ai.location.ip"] == "127.0.0.1"


def test_role_is_the_app_title(served: Served) -> None:
    assert served.request_of("route")["tags"]["ai.cloud.role"] == "orders-api"


def _seconds(duration: str) -> float:
    """Application Insights' ``d.hh:mm:ss.ffffff``."""
    hours, minutes, seconds = duration.split(".", 1)[1].split(":")
    return 3600 * int(hours) + 60 * int(minutes) + float(seconds)
