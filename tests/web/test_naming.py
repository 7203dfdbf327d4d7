"""Requests are named by method and route template, never by the raw path (README, Deliberate
differences 4): the same rules for Django, Flask and FastAPI."""

import pytest

from ai_core.web.naming import NOT_FOUND_ROUTE, operation_name, route_template


@pytest.mark.parametrize(
    "method, template, name",
    [
        ("GET", "/items/{id}", "GET /items/{id}"),  # FastAPI / Starlette
        ("get", "/items/<int:item_id>", "GET /items/<int:item_id>"),  # Flask, method upper-cased
        ("POST", "items/<int:pk>/", "POST /items/<int:pk>/"),  # Django patterns have no leading /
        ("GET", "", "GET /"),  # Django's root pattern
        ("GET", "  /padded ", "GET /padded"),
        ("DELETE", None, "DELETE /<not found>"),  # unmatched: one fixed name, never the path
        ("", "/x", "_OTHER /x"),
        (None, None, "_OTHER /<not found>"),
    ],
)
def test_operation_name(method, template, name):
    assert operation_name(method, template) == name


def test_every_unmatched_path_shares_one_name():
    assert route_template(None) == NOT_FOUND_ROUTE == "/<not found>"
