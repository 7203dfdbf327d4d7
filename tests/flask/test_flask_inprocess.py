"""The fast tier of the Flask adapter: tests/flask/site driven by Flask's test client in this
process, its telemetry captured in memory by the ``ai_telemetry`` fixture (README, "Testing
your telemetry"). The real-server tests next to it prove the process models; these prove the
request rules in milliseconds."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

SITE = Path(__file__).resolve().parent / "site"


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db_file = tmp_path_factory.mktemp("flasksite") / "site.sqlite3"
    saved = os.environ.get("FLASKSITE_DB")
    os.environ["FLASKSITE_DB"] = str(db_file)  # read by flasksite.db at each query
    sys.path.insert(0, str(SITE))
    try:
        from flasksite import broken_user_reader, create_app, db

        db.init_db()
        shop = create_app()
        admin = create_app("admin", APPLICATION_INSIGHTS_ROLE_NAME="back-office",
                           APPLICATION_INSIGHTS_USER_ID=broken_user_reader)
        yield shop, admin
    finally:
        sys.path.remove(str(SITE))
        if saved is None:
            os.environ.pop("FLASKSITE_DB", None)
        else:
            os.environ["FLASKSITE_DB"] = saved


@pytest.fixture()
def client(apps: Any) -> Any:
    return apps[0].test_client()


def test_requests_are_named_by_route_rule(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1").status_code == 200
    assert client.get("/api/items/2").status_code == 200

    assert [r.name for r in ai_telemetry.requests] == ["GET /items/<int:item_id>", "GET /api/items/<int:item_id>"]
    assert [r.result_code for r in ai_telemetry.requests] == ["200", "200"]
    assert ai_telemetry.requests[0]["data"]["baseData"]["url"].endswith("/items/1")


def test_404s_keep_their_route_or_share_one_name(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/404").status_code == 404  # the route matched, the view said 404
    assert client.get("/no/such/page").status_code == 404

    known, unknown = ai_telemetry.requests
    assert (known.name, known.result_code, known.success) == ("GET /items/<int:item_id>", "404", False)
    assert unknown.name == "GET /<not found>"
    assert ai_telemetry.exceptions == []


def test_a_signed_in_user_is_the_authenticated_user_and_a_guest_has_none(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1").status_code == 200
    assert client.post("/login", data={"user": "alice"}).status_code == 200
    assert client.get("/account").status_code == 200

    guest, login, account = ai_telemetry.requests
    assert guest.auth_user_id is None
    assert login.auth_user_id == "7"
    assert account.auth_user_id == "7"
    account_sql = [d for d in ai_telemetry.dependencies if d.operation_id == account.operation_id]
    assert account_sql and all(d.auth_user_id == "7" for d in account_sql)


def test_excluded_routes_and_urls_send_nothing(client: Any, ai_telemetry: Any) -> None:
    for path in ("/health", "/api/health", "/skip/this"):
        assert client.get(path + "?t=excluded").status_code == 200  # each runs SQL and logs a warning

    assert ai_telemetry.all == []  # metrics too: an excluded request is not in requests/duration


def test_an_uncaught_exception_is_one_exception_item_and_a_failed_request(client: Any, ai_telemetry: Any) -> None:
    # The response is kept and never read, and pytest's log capture holds the 500's traceback:
    # the request's body (and span) stays open until the test ends, yet the test sees it whole.
    response = client.get("/fail")
    assert response.status_code == 500

    (request,) = ai_telemetry.requests
    (exception,) = ai_telemetry.exceptions
    assert (request.name, request.result_code, request.success) == ("GET /fail", "500", False)
    assert exception.type_name == "RuntimeError"
    assert exception.message == "the teapot broke"
    assert exception.operation_id == request.operation_id
    assert exception.operation_name == "GET /fail"


def test_sql_inside_a_request_is_its_dependency(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/orders").status_code == 200

    (request,) = ai_telemetry.requests
    (query,) = ai_telemetry.dependencies
    assert query.command == "SELECT id, name FROM items"
    assert query.operation_id == request.operation_id
    assert query.parent_id == request["data"]["baseData"]["id"]
    assert query.operation_name == "GET /orders"


def test_each_app_keeps_its_own_role(apps: Any, ai_telemetry: Any) -> None:
    shop, admin = apps
    assert shop.test_client().get("/items/1").status_code == 200
    assert admin.test_client().get("/items/1").status_code == 200  # its user_id callable raises

    shop_request, admin_request = ai_telemetry.requests
    assert shop_request.role == "flasksite"
    assert admin_request.role == "back-office"
    assert admin_request.auth_user_id is None
    admin_sql = [d for d in ai_telemetry.dependencies if d.operation_id == admin_request.operation_id]
    assert admin_sql and {d.role for d in admin_sql} == {"back-office"}


def test_a_log_line_inside_a_request_carries_its_operation(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/log?t=17").status_code == 200

    (request,) = ai_telemetry.requests
    (line,) = ai_telemetry.traces
    assert line.message == "a log line 17"
    assert line.severity == 2  # Warning
    assert (line.operation_id, line.operation_name) == (request.operation_id, "GET /log")
