"""django_ai's request attributes are exactly the stock instrumentation's: the lean builder of the
default conventions against the contrib ``collect_request_attributes`` it replaces, over the
environs servers send (gunicorn's ``RAW_URI``, uwsgi's ``REQUEST_URI``, Django's test client
with neither, bots, odd methods and ports)."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from opentelemetry.instrumentation._semconv import _StabilityMode
from opentelemetry.instrumentation.wsgi import collect_request_attributes

from django_ai.semconv import default_wsgi_request_attributes

BASE: Dict[str, Any] = {
    "REQUEST_METHOD": "GET", "PATH_INFO": "/items/7/", "RAW_URI": "/items/7/?a=1", "SCRIPT_NAME": "",
    "QUERY_STRING": "a=1", "SERVER_NAME": "web-1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "10.0.0.5", "REMOTE_PORT": "51234", "HTTP_HOST": "shop.example:8000",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "wsgi.url_scheme": "https",
}

CASES = {
    "gunicorn": {},
    "uwsgi REQUEST_URI": {"RAW_URI": None, "REQUEST_URI": "/items/7/?a=1"},
    "test client, no raw URI": {"RAW_URI": None},
    "lower-case method": {"REQUEST_METHOD": "get"},
    "unknown method": {"REQUEST_METHOD": "BREW"},
    "no method": {"REQUEST_METHOD": None},
    "no host header": {"HTTP_HOST": None},
    "no server port": {"SERVER_PORT": None},
    "peer port not a number": {"REMOTE_PORT": "x"},
    "peer host name": {"REMOTE_HOST": "client.example"},
    "peer host name is the address": {"REMOTE_HOST": "10.0.0.5"},
    "no peer": {"REMOTE_ADDR": None, "REMOTE_PORT": None},
    "bot": {"HTTP_USER_AGENT": "Googlebot/2.1 (+http://www.google.com/bot.html)"},
    "test agent": {"HTTP_USER_AGENT": "AlwaysOn"},
    "empty agent": {"HTTP_USER_AGENT": ""},
    "HTTP/2": {"SERVER_PROTOCOL": "HTTP/2.0"},
    "no protocol": {"SERVER_PROTOCOL": None},
    "empty raw URI": {"RAW_URI": ""},
    "no scheme": {"wsgi.url_scheme": None},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_attributes_are_the_stock_ones_key_for_key_in_order(case: str) -> None:
    environ = dict(BASE)
    for key, value in CASES[case].items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value

    assert list(default_wsgi_request_attributes(environ).items()) == list(
        collect_request_attributes(environ, _StabilityMode.DEFAULT).items())
