"""django_ai under gunicorn (2 sync workers, --preload), real HTTP in, telemetry read back
from the emulator after a graceful stop: what a Django developer would look for in the portal."""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from django_site import BIN, free_port, migrate, request, site_env, start, stop, wait_until_serving


class Served:
    """What one server run answered, and the emulator that received its telemetry."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.tokens: Dict[str, str] = {}
        self.status: Dict[str, int] = {}

    def get(self, port: int, key: str, path: str, **kwargs: Any) -> None:
        token = self.tokens[key] = "%s-%s" % (key, uuid.uuid4().hex[:8])
        sep = "&" if "?" in path else "?"
        self.status[key] = request(port, kwargs.pop("method", "GET"), "%s%st=%s" % (path, sep, token), **kwargs)[0]

    def request_of(self, key: str) -> Dict[str, Any]:
        found = self.emu.items(type="request", q=self.tokens[key])
        assert len(found) == 1, "%s: %d request items" % (key, len(found))
        return found[0]["envelope"]

    def operation(self, key: str) -> List[Dict[str, Any]]:
        op = self.request_of(key)["tags"]["ai.operation.id"]
        return [item["envelope"] for item in self.emu.operation(op)]

    def nothing_for(self, key: str) -> bool:
        return self.emu.items(q=self.tokens[key]) == []


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("django-gunicorn")
    with Emulator(port=0, db=":memory:") as emu:
        env = site_env(tmp / "site.db", emu.connection_string, tmp / "storage", TRUSTED_PROXIES=1)
        migrate(env)
        port = free_port()
        proc = start([str(BIN / "gunicorn"), "-w", "2", "--preload", "-b", "127.0.0.1:%d" % port,
                      "testsite.wsgi"], env)
        out = ""
        try:
            wait_until_serving(port, proc)
            s = Served(emu)
            s.get(port, "route", "/items/1/")
            s.get(port, "repath", "/articles/2024/")
            s.get(port, "unmatched", "/no/such/page/")
            s.get(port, "missing", "/items/999/")
            s.get(port, "fail", "/fail/")
            s.get(port, "forbidden", "/private/")
            s.get(port, "health", "/health/")
            s.get(port, "nshealth", "/api/health/")
            s.get(port, "skipurl", "/skip/this/")
            s.get(port, "query", "/orders/?next=/skip/this/")
            s.get(port, "spoofed", "/orders/", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
            s.get(port, "stream", "/stream/")
            s.get(port, "log", "/log/")
            status, headers, _ = request(port, "POST", "/login/", body=b"user=alice&password=wonderland",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert status == 200
            cookie = headers["set-cookie"].split(";", 1)[0]
            s.get(port, "account", "/account/", headers={"Cookie": cookie})
            s.get(port, "anonymous", "/orders/")
            s.route_seen = json.loads(request(port, "GET", "/seen/7/")[2])["route"]
        finally:
            out = stop(proc)
        s.server_output = out
        yield s


def test_every_request_was_answered_as_the_app_means(served: Served) -> None:
    assert served.status == {
        "route": 200, "repath": 200, "unmatched": 404, "missing": 404, "fail": 500, "forbidden": 403,
        "health": 200, "nshealth": 200, "skipurl": 200, "query": 200, "spoofed": 200, "stream": 200,
        "log": 200, "account": 200, "anonymous": 200,
    }, served.server_output


@pytest.mark.parametrize("key, name", [
    ("route", "GET /items/<int:pk>/"),
    ("repath", "GET /articles/<year>/"),  # re_path: a readable form, not the regex
    ("missing", "GET /items/<int:pk>/"),  # a 404 of a matched route keeps the route
    ("unmatched", "GET /<not found>"),  # never the raw path
])
def test_requests_are_named_by_route_template(served: Served, key: str, name: str) -> None:
    env = served.request_of(key)
    assert env["data"]["baseData"]["name"] == name
    assert env["tags"]["ai.operation.name"] == name


def test_orm_queries_are_dependencies_of_their_request(served: Served) -> None:
    items = served.operation("route")
    deps = [e for e in items if e["data"]["baseType"] == "RemoteDependencyData"]
    # SQLite is reported as the official exporter reports it: type "SQL".
    assert deps and all(d["data"]["baseData"]["type"] == "SQL" for d in deps)
    assert any("shop_item" in d["data"]["baseData"].get("data", "") for d in deps)
    assert all(d["tags"]["ai.operation.name"] == "GET /items/<int:pk>/" for d in deps)


def test_an_uncaught_exception_is_one_exception_on_a_500_request(served: Served) -> None:
    request = served.request_of("fail")["data"]["baseData"]
    assert request["responseCode"] == "500" and request["success"] is False
    exceptions = [e for e in served.operation("fail") if e["data"]["baseType"] == "ExceptionData"]
    assert len(exceptions) == 1  # not a second one from django.request's "Internal Server Error" log
    assert exceptions[0]["data"]["baseData"]["exceptions"][0]["message"] == "the teapot broke"
    assert "Internal Server Error" in served.server_output  # the console still has the log line


@pytest.mark.parametrize("key, code", [("unmatched", "404"), ("missing", "404"), ("forbidden", "403")])
def test_404_and_permission_denied_are_answers_not_exceptions(served: Served, key: str, code: str) -> None:
    assert served.request_of(key)["data"]["baseData"]["responseCode"] == code
    assert [e for e in served.operation(key) if e["data"]["baseType"] == "ExceptionData"] == []


@pytest.mark.parametrize("key", ["health", "nshealth", "skipurl"])
def test_excluded_urls_and_route_names_send_nothing_not_even_their_sql(served: Served, key: str) -> None:
    assert served.status[key] == 200
    assert served.nothing_for(key)
    # Their SQL queries carry no token: no dependency may exist outside an operation we know.
    ops = {i["envelope"]["tags"].get("ai.operation.id") for i in served.emu.items(type="request", limit=1000)}
    stray = [i for i in served.emu.items(type="dependency", limit=1000)
             if i["envelope"]["tags"].get("ai.operation.id") not in ops]
    assert stray == []


def test_the_query_string_never_excludes(served: Served) -> None:
    assert served.request_of("query")["data"]["baseData"]["name"] == "GET /orders/"


def test_client_ip_is_the_last_untrusted_hop_not_the_spoofed_one(served: Served) -> None:
    assert served.request_of("spoofed")["tags"]["ai.location.ip"] == "203.0.113.9"
    assert served.request_of("anonymous")["tags"]["ai.location.ip"] == "127.0.0.1"


def test_the_logged_in_user_is_the_authenticated_user(served: Served) -> None:
    from_request = served.request_of("account")["tags"]
    assert from_request["ai.user.authUserId"] == "1"  # alice's primary key
    deps = [e for e in served.operation("account") if e["data"]["baseType"] == "RemoteDependencyData"]
    assert deps and all(d["tags"]["ai.user.authUserId"] == "1" for d in deps)
    assert "ai.user.authUserId" not in served.request_of("anonymous")["tags"]


def test_a_streamed_body_is_inside_the_request_duration(served: Served) -> None:
    duration = served.request_of("stream")["data"]["baseData"]["duration"]  # "0.00:00:00.912345"
    hours, minutes, seconds = duration.split(".", 1)[1].split(":")
    assert float(seconds) + 60 * int(minutes) >= 0.9  # the view's body takes 3 x 0.3 s


def test_log_records_arrive_once_with_their_request(served: Served) -> None:
    traces = [i["envelope"] for i in served.emu.items(type="trace", q=served.tokens["log"])]
    assert len(traces) == 1  # the LOGGING dict's own handlers do not duplicate it
    request = served.request_of("log")
    assert traces[0]["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    assert traces[0]["tags"]["ai.operation.name"] == "GET /log/"
    assert traces[0]["tags"]["ai.location.ip"] == "127.0.0.1"


def test_the_route_is_named_while_the_view_runs(served: Served) -> None:
    # Dependencies and logs converted before the request ends read the name from the live span.
    assert served.route_seen == "/seen/<int:pk>/"


def test_djangos_not_found_line_belongs_to_its_request(served: Served) -> None:
    (line,) = [i["envelope"] for i in served.emu.items(type="trace", q=served.tokens["unmatched"])]
    assert line["data"]["baseData"]["message"] == "Not Found: /no/such/page/"
    request = served.request_of("unmatched")
    assert line["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
    assert line["tags"]["ai.operation.name"] == "GET /<not found>"
    assert "Invalid type" not in served.server_output  # Django's request=<WSGIRequest> extra


def test_role_is_the_project_name(served: Served) -> None:
    assert served.request_of("route")["tags"]["ai.cloud.role"] == "testsite"
