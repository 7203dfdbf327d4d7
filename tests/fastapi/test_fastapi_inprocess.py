"""The fast tier of the FastAPI adapter: tests/fastapi/site/ordersapp.py driven by FastAPI's
``TestClient`` in this process, its telemetry captured in memory by the ``ai_telemetry`` fixture
(README, "Testing your telemetry"). The real-server tests next to it prove the process models;
these prove the request rules in milliseconds."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

SITE = Path(__file__).resolve().parent / "site"
# The app's middleware options (ordersapp reads them at import); logging_level as the other
# sites' in this process: one pipeline per process, and its options must agree.
OPTIONS = {"logging_level": "INFO", "excluded_routes": ["health"], "excluded_urls": ["^/skip/"]}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    saved = os.environ.get("ORDERSAPP_AI")
    os.environ["ORDERSAPP_AI"] = json.dumps(OPTIONS)
    # The TestClient's own HTTP client logs each call at INFO ("HTTP Request: GET http://testserver/..."),
    # outside any request: with the root logger at INFO (Django's test settings, in this process)
    # those lines would be captured too. They are the test's, not the app's.
    httpx_logger = logging.getLogger("httpx")
    saved_level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    sys.path.insert(0, str(SITE))
    try:
        from fastapi.testclient import TestClient

        import ordersapp

        # raise_server_exceptions=False: a 500 is an answer here, as a browser would get it.
        with TestClient(ordersapp.app, raise_server_exceptions=False) as test_client:
            yield test_client
    finally:
        httpx_logger.setLevel(saved_level)
        sys.path.remove(str(SITE))
        if saved is None:
            os.environ.pop("ORDERSAPP_AI", None)
        else:
            os.environ["ORDERSAPP_AI"] = saved


def test_requests_are_named_by_path_template(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/api/orders/1").status_code == 200
    assert client.get("/sub/ping/3").status_code == 200

    assert [r.name for r in ai_telemetry.requests] == ["GET /api/orders/{order_id}", "GET /sub/ping/{n}"]
    assert ai_telemetry.requests[0]["data"]["baseData"]["responseCode"] == "200"


def test_404s_keep_their_route_or_share_one_name(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/api/orders/404").status_code == 404  # HTTPException(404) from the endpoint
    assert client.get("/no/such/page").status_code == 404

    known, unknown = ai_telemetry.requests
    assert (known.name, known.result_code, known.success) == ("GET /api/orders/{order_id}", "404", False)
    assert unknown.name == "GET /<not found>"
    assert ai_telemetry.exceptions == []


def test_an_authenticated_user_is_the_authenticated_user_and_a_guest_has_none(
    client: Any, ai_telemetry: Any
) -> None:
    assert client.get("/account").status_code == 200
    assert client.get("/account", headers={"Authorization": "Bearer alice"}).json() == {"user": "alice"}

    guest, alice = ai_telemetry.requests
    assert guest.auth_user_id is None
    assert alice.auth_user_id == "alice"


def test_excluded_routes_and_urls_send_nothing(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/health").status_code == 200  # each runs SQL
    assert client.get("/skip/this").status_code == 200

    assert ai_telemetry.all == []  # metrics too: an excluded request is not in requests/duration


def test_an_uncaught_exception_is_one_exception_item_and_a_failed_request(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/fail").status_code == 500

    (request,) = ai_telemetry.requests
    (exception,) = ai_telemetry.exceptions
    assert (request.name, request.result_code, request.success) == ("GET /fail", "500", False)
    assert (exception.type_name, exception.message) == ("RuntimeError", "the teapot broke")
    assert exception.operation_id == request.operation_id


def test_sql_inside_a_request_is_its_dependency(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/api/orders/1").status_code == 200

    (request,) = ai_telemetry.requests
    queries = ai_telemetry.dependencies
    assert [q.command for q in queries][-1] == "SELECT id, item FROM orders WHERE id = ?"
    assert {q.operation_id for q in queries} == {request.operation_id}
    assert {q.operation_name for q in queries} == {"GET /api/orders/{order_id}"}


def test_the_role_is_the_app_title(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/api/orders/1").status_code == 200

    (request,) = ai_telemetry.requests
    assert request.role == "orders-api"
