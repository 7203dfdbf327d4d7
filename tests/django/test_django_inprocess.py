"""The fast tier of the Django adapter: tests/django/testsite driven by Django's test ``Client`` in
this process, its telemetry captured in memory by the ``ai_telemetry`` fixture (README, "Testing
your telemetry"). The real-server tests next to it prove the process models; these prove the
request rules in milliseconds.

Django is set up here the way pytest-django would do it: settings module, ``django.setup()``
(which runs ``django_ai``'s ``AppConfig.ready()``: a capture-only pipeline under the plugin, as
the test settings have no connection string), then the tables of an in-memory database.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

SITE = Path(__file__).resolve().parent / "testsite"


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    previous = os.environ.get("DJANGO_SETTINGS_MODULE")
    if previous not in (None, "testsite.settings"):
        pytest.skip("Django is set up with other settings in this process")
    sys.path.insert(0, str(SITE))
    try:
        import django
        from django.core.management import call_command

        # Only while Django reads it: subprocesses that later tests start inherit this
        # environment (a Celery worker or the doctor would load testsite.settings too).
        os.environ["DJANGO_SETTINGS_MODULE"] = "testsite.settings"
        try:
            django.setup()
        finally:
            if previous is None:
                del os.environ["DJANGO_SETTINGS_MODULE"]
        call_command("migrate", run_syncdb=True, verbosity=0)
        from django.contrib.auth.models import User
        from shop.models import Item

        Item.objects.get_or_create(pk=1, defaults={"name": "tea"})
        user, _ = User.objects.get_or_create(username="alice")
        yield user
    finally:
        sys.path.remove(str(SITE))


@pytest.fixture()
def client(site: Any) -> Any:
    from django.test import Client

    return Client(raise_request_exception=False)  # a 500 is an answer here, not a test error


def test_requests_are_named_by_route_template(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1/").status_code == 200
    assert client.get("/articles/2026/").status_code == 200

    assert [r.name for r in ai_telemetry.requests] == ["GET /items/<int:pk>/", "GET /articles/<year>/"]
    assert ai_telemetry.requests[0]["data"]["baseData"]["responseCode"] == "200"


def test_404s_keep_their_route_or_share_one_name(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/404/").status_code == 404  # get_object_or_404: Http404 from the view
    assert client.get("/no/such/page/").status_code == 404

    known, unknown = ai_telemetry.requests
    assert (known.name, known.result_code, known.success) == ("GET /items/<int:pk>/", "404", False)
    assert unknown.name == "GET /<not found>"
    assert ai_telemetry.exceptions == []  # Http404 is an answer, not an exception item


def test_a_signed_in_user_is_the_authenticated_user_and_a_guest_has_none(
    client: Any, site: Any, ai_telemetry: Any
) -> None:
    assert client.get("/items/1/").status_code == 200
    client.force_login(site)
    assert client.get("/account/").status_code == 200

    guest, account = ai_telemetry.requests
    assert guest.auth_user_id is None
    assert account.auth_user_id == str(site.pk)


EXCLUDED = ("/health/", "/api/health/", "/skip/this/")  # each runs an SQL query


def test_excluded_routes_and_urls_send_nothing(client: Any, ai_telemetry: Any) -> None:
    for path in EXCLUDED:
        assert client.get(path).status_code == 200

    assert [item for item in ai_telemetry.all if item.base_type != "MetricData"] == []


def test_excluded_requests_are_not_in_the_request_metrics(client: Any, ai_telemetry: Any) -> None:
    for path in EXCLUDED:
        assert client.get(path).status_code == 200

    assert ai_telemetry.metrics == []


def test_served_requests_are_counted_in_requests_duration_by_status_code(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1/").status_code == 200
    assert client.get("/orders/").status_code == 200
    assert client.get("/no/such/page/").status_code == 404
    assert client.get("/health/").status_code == 200  # excluded: not counted

    points = [m for m in ai_telemetry.metrics if m["data"]["baseData"]["properties"].get("_MS.MetricId")
              == "requests/duration"]
    counts = {p["data"]["baseData"]["properties"]["request/resultCode"]: p["data"]["baseData"]["metrics"][0]["count"]
              for p in points}
    assert counts == {"200": 2, "404": 1}
    assert {p["data"]["baseData"]["metrics"][0]["name"] for p in points} == {"http.server.duration"}
    # The request items say their requests are already in requests/duration (no double counting).
    assert all(r["data"]["baseData"]["properties"].get("_MS.ProcessedByMetricExtractors") == "True"
               for r in ai_telemetry.requests)


def test_an_incoming_traceparent_continues_the_callers_trace(client: Any, ai_telemetry: Any) -> None:
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert client.get("/orders/", HTTP_TRACEPARENT=caller).status_code == 200

    (request,) = ai_telemetry.requests
    assert request.operation_id == "0af7651916cd43dd8448eb211c80319c"
    assert request.tags["ai.operation.parentId"] == "b7ad6b7169203331"


def test_the_request_carries_url_client_ip_and_http_route(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1/?next=x", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200

    (request,) = ai_telemetry.requests
    assert request["data"]["baseData"]["url"] == "http://testserver/items/1/?next=x"
    assert request.tags["ai.location.ip"] == "127.0.0.1"  # trusted_proxies 0: the header is not believed
    assert request.tags["ai.operation.name"] == "GET /items/<int:pk>/"


def test_a_streamed_body_is_inside_the_request(client: Any, ai_telemetry: Any) -> None:
    response = client.get("/stream/")
    assert b"".join(response.streaming_content) == b"chunk 0\nchunk 1\nchunk 2\n"
    response.close()  # what the server does once the body is sent

    (request,) = ai_telemetry.requests
    seconds = float(request["data"]["baseData"]["duration"].rsplit(":", 1)[1])
    assert seconds >= 0.9  # the view's body takes 3 x 0.3 s


def test_an_uncaught_exception_is_one_exception_item_and_a_failed_request(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/fail/").status_code == 500

    (request,) = ai_telemetry.requests
    (exception,) = ai_telemetry.exceptions
    assert (request.name, request.result_code, request.success) == ("GET /fail/", "500", False)
    assert (exception.type_name, exception.message) == ("RuntimeError", "the teapot broke")
    assert exception.operation_id == request.operation_id


def test_an_exception_django_propagates_is_still_one_exception_item_and_a_500(site: Any, ai_telemetry: Any) -> None:
    from django.test import Client, override_settings

    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True), pytest.raises(RuntimeError, match="the teapot broke"):
        Client().get("/fail/")  # no response at all: the exception reaches the server

    (request,) = ai_telemetry.requests
    (exception,) = ai_telemetry.exceptions
    assert (request.name, request.result_code, request.success) == ("GET /fail/", "500", False)
    assert exception.operation_id == request.operation_id


def test_sql_inside_a_request_is_its_dependency(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/items/1/").status_code == 200

    (request,) = ai_telemetry.requests
    (query,) = ai_telemetry.dependencies
    assert "FROM \"shop_item\"" in query.command
    assert query.operation_id == request.operation_id
    assert query.operation_name == "GET /items/<int:pk>/"


def test_the_role_is_the_project(client: Any, ai_telemetry: Any) -> None:
    assert client.get("/orders/").status_code == 200

    (request,) = ai_telemetry.requests
    assert request.role == "testsite"


def test_the_anonymous_request_shortcut_never_skips_a_user_the_reader_would_record(site: Any) -> None:
    """The middleware skips the ``user_id`` reader when ``no_user_to_read`` says there is nothing
    to read (a request-thread saving); wherever the reader would record a user, it must not."""
    from django.conf import settings
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import Client, RequestFactory
    from django.utils.functional import SimpleLazyObject

    from django_ai.hooks import django_user_id, no_user_to_read

    def through_auth(request: Any) -> Any:  # SessionMiddleware + AuthenticationMiddleware, as served
        SessionMiddleware(lambda r: HttpResponse()).process_request(request)
        AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
        return request

    signed_in = Client()
    signed_in.force_login(site)
    session_cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
    factory = RequestFactory()

    class WithUserProperty(type(factory.get("/"))):  # type: ignore[misc]
        @property
        def user(self) -> Any:
            return site

    anonymous = {
        "no authentication middleware": factory.get("/"),
        "user set to None": factory.get("/"),
        "session user, no session cookie": through_auth(factory.get("/")),
    }
    anonymous["user set to None"].user = None
    with_user = {
        "session user with the session cookie": through_auth(
            factory.get("/", HTTP_COOKIE="%s=%s" % (settings.SESSION_COOKIE_NAME, session_cookie))),
        "a user object": factory.get("/"),
        "a lazy user of the project's own": factory.get("/"),
        "a session user already read by the view": through_auth(factory.get("/")),
        "a request class with a user property": WithUserProperty(factory.get("/").environ),
    }
    with_user["a user object"].user = site
    with_user["a lazy user of the project's own"].user = SimpleLazyObject(lambda: site)
    with_user["a session user already read by the view"].user.is_authenticated  # evaluates the lazy user

    for name, request in anonymous.items():
        assert no_user_to_read(request), name
        assert django_user_id(request) is None, name
    for name, request in with_user.items():
        assert not no_user_to_read(request), name
    assert django_user_id(with_user["session user with the session cookie"]) == str(site.pk)
    assert django_user_id(with_user["a request class with a user property"]) == str(site.pk)
