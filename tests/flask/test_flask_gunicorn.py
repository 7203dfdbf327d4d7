"""flask_ai under gunicorn (2 sync workers, --preload), real HTTP in, telemetry read back from
the emulator after a graceful stop: what a Flask developer would look for in the portal.

The served WSGI app is two apps from one factory (tests/flask/site/flasksite/wsgi.py): the
shop at ``/`` (role ``flasksite``, its ``app.name``; one trusted proxy; ``health`` and
``api.health`` excluded by endpoint, ``^/skip/`` by URL) and an admin app at ``/admin`` (role
``back-office``, nothing excluded, no proxy trusted, a ``user_id`` callable that raises).
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from flask_site import BIN, Served, duration_s, free_port, init_db, request, site_env, start, stop, wait_until_serving


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("flask-gunicorn")
    with Emulator(port=0, db=":memory:") as emu:
        env = site_env(tmp / "site.db", emu.connection_string, tmp / "storage", TRUSTED_PROXIES=1)
        init_db(env)
        port = free_port()
        proc = start([str(BIN / "gunicorn"), "-w", "2", "--preload", "-b", "127.0.0.1:%d" % port,
                      "flasksite.wsgi:application"], env)
        s = Served(emu, port)
        try:
            wait_until_serving(port, proc)
            s.get("route", "/items/1")
            s.get("blueprint", "/api/items/2")
            s.get("unmatched", "/no/such/page")
            s.get("missing", "/items/999")  # abort(404) in a matched route
            s.get("fail", "/fail")
            s.get("health", "/health")
            s.get("apihealth", "/api/health")
            s.get("skipurl", "/skip/this")
            s.get("query", "/orders?next=/skip/this")
            s.get("spoofed", "/orders", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
            s.get("stream", "/stream")
            s.get("streamplain", "/stream-plain")
            s.get("log", "/log")
            s.get("anonymous", "/orders")
            s.get("unauthorized", "/account")
            status, headers, _ = request(port, "POST", "/login", body=b"user=alice",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 200
            cookie = headers["set-cookie"].split(";", 1)[0]
            s.get("account", "/account", headers={"Cookie": cookie})
            s.get("guest", "/guest")  # g.user set by the view, no Flask-Login session
            s.get("admin", "/admin/orders", headers={"Cookie": cookie, "X-Forwarded-For": "6.6.6.6"})
            s.get("adminhealth", "/admin/health")
            s.get("adminfail", "/admin/fail")
        finally:
            s.server_output = stop(proc)  # right after the last request: the stop must flush it
        yield s


def test_every_request_was_answered_as_the_app_means(served: Served) -> None:
    assert served.status == {
        "route": 200, "blueprint": 200, "unmatched": 404, "missing": 404, "fail": 500, "health": 200,
        "apihealth": 200, "skipurl": 200, "query": 200, "spoofed": 200, "stream": 200, "streamplain": 200,
        "log": 200, "anonymous": 200, "unauthorized": 401, "account": 200, "guest": 200, "admin": 200,
        "adminhealth": 200, "adminfail": 500,
    }, served.server_output


@pytest.mark.parametrize("key, name", [
    ("route", "GET /items/<int:item_id>"),
    ("blueprint", "GET /api/items/<int:item_id>"),  # the blueprint's URL prefix included
    ("missing", "GET /items/<int:item_id>"),  # abort(404) in a matched route keeps the route
    ("unmatched", "GET /<not found>"),  # never the raw path
    ("admin", "GET /orders"),  # the admin app's own rule (mounted at /admin)
])
def test_requests_are_named_by_url_rule(served: Served, key: str, name: str) -> None:
    env = served.request_of(key)
    assert env["data"]["baseData"]["name"] == name
    assert env["tags"]["ai.operation.name"] == name


def test_sql_queries_are_dependencies_of_their_request(served: Served) -> None:
    deps = served.of_type("route", "RemoteDependencyData")
    assert deps and all(d["data"]["baseData"]["type"] == "SQL" for d in deps)
    assert any("FROM items" in d["data"]["baseData"].get("data", "") for d in deps)
    assert all(d["tags"]["ai.operation.name"] == "GET /items/<int:item_id>" for d in deps)


def test_an_uncaught_exception_is_one_exception_on_a_500_request(served: Served) -> None:
    request = served.request_of("fail")["data"]["baseData"]
    assert request["responseCode"] == "500" and request["success"] is False
    exceptions = served.of_type("fail", "ExceptionData")
    assert len(exceptions) == 1  # not a second one from Flask's "Exception on /fail [GET]" log line
    assert exceptions[0]["data"]["baseData"]["exceptions"][0]["message"] == "the teapot broke"
    assert "Exception on /fail [GET]" in served.server_output  # the console still has the log line


@pytest.mark.parametrize("key", ["unmatched", "missing", "unauthorized"])
def test_http_errors_are_answers_not_exceptions(served: Served, key: str) -> None:
    request = served.request_of(key)["data"]["baseData"]
    assert request["responseCode"] == str(served.status[key])
    assert served.of_type(key, "ExceptionData") == []


@pytest.mark.parametrize("key", ["health", "apihealth", "skipurl"])
def test_excluded_endpoints_and_urls_send_nothing_not_even_their_sql_or_logs(served: Served, key: str) -> None:
    assert served.status[key] == 200
    assert served.nothing_for(key)  # no request, and no "health checked <token>" log line
    # Their SQL queries carry no token: no dependency may exist outside an operation we know.
    ops = {i["envelope"]["tags"].get("ai.operation.id") for i in served.emu.items(type="request", limit=1000)}
    stray = [i for i in served.emu.items(type="dependency", limit=1000)
             if i["envelope"]["tags"].get("ai.operation.id") not in ops]
    assert stray == []


def test_another_app_in_the_process_keeps_its_own_exclusions(served: Served) -> None:
    request = served.request_of("adminhealth")
    assert request["data"]["baseData"]["name"] == "GET /health"
    assert [t["data"]["baseData"]["message"] for t in served.of_type("adminhealth", "MessageData")] == [
        "health checked " + served.tokens["adminhealth"]]


def test_the_query_string_never_excludes(served: Served) -> None:
    assert served.request_of("query")["data"]["baseData"]["name"] == "GET /orders"


def test_client_ip_is_the_last_untrusted_hop_not_the_spoofed_one(served: Served) -> None:
    assert served.request_of("spoofed")["tags"]["ai.location.ip"] == "203.0.113.9"
    assert served.request_of("anonymous")["tags"]["ai.location.ip"] == "127.0.0.1"
    # The admin app trusts no proxy: the header is ignored, the socket peer is the client.
    assert served.request_of("admin")["tags"]["ai.location.ip"] == "127.0.0.1"


def test_the_flask_login_user_is_the_authenticated_user(served: Served) -> None:
    assert served.request_of("account")["tags"]["ai.user.authUserId"] == "7"
    deps = served.of_type("account", "RemoteDependencyData")
    assert deps and all(d["tags"]["ai.user.authUserId"] == "7" for d in deps)
    # Loading the user for the tag is not a query of the request: the view's own query only.
    assert [d["data"]["baseData"]["data"] for d in deps].count("SELECT id, name FROM users WHERE id = ?") <= 1
    for key in ("anonymous", "unauthorized"):
        assert "ai.user.authUserId" not in served.request_of(key)["tags"]


def test_g_user_is_the_user_without_flask_login(served: Served) -> None:
    assert served.request_of("guest")["tags"]["ai.user.authUserId"] == "7"


def test_a_raising_user_id_callable_costs_the_tag_not_the_request(served: Served) -> None:
    assert served.status["admin"] == 200
    assert "ai.user.authUserId" not in served.request_of("admin")["tags"]


def test_two_apps_in_one_process_keep_their_own_role_names(served: Served) -> None:
    assert served.request_of("route")["tags"]["ai.cloud.role"] == "flasksite"  # app.name
    for key in ("admin", "adminfail"):
        items = served.operation(key)
        assert len(items) >= 2 and {i["tags"]["ai.cloud.role"] for i in items} == {"back-office"}
    assert {i["tags"]["ai.cloud.role"] for i in served.operation("route")} == {"flasksite"}


@pytest.mark.parametrize("key", ["stream", "streamplain"])
def test_a_streamed_body_is_inside_the_request_duration(served: Served, key: str) -> None:
    assert duration_s(served.request_of(key)) >= 0.9  # the body takes 3 x 0.3 s after the view returned


def test_log_records_arrive_once_with_their_request(served: Served) -> None:
    traces = [i["envelope"] for i in served.emu.items(type="trace", q=served.tokens["log"])]
    assert len(traces) == 1
    request = served.request_of("log")
    assert traces[0]["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    assert traces[0]["tags"]["ai.operation.name"] == "GET /log"
    assert traces[0]["tags"]["ai.location.ip"] == "127.0.0.1"


def _request_names(items: List[Dict[str, Any]]) -> List[str]:
    return [i["envelope"]["data"]["baseData"]["name"] for i in items]


def test_each_request_is_one_request_item(served: Served) -> None:
    # 21 requests made, 3 of them excluded: none recorded twice, none nested in another.
    names = _request_names(served.emu.items(type="request", limit=1000))
    assert len(names) == 18 and names.count("POST /login") == 1
    deps = served.emu.items(type="dependency", limit=1000)
    assert {d["envelope"]["data"]["baseData"]["type"] for d in deps} == {"SQL"}
