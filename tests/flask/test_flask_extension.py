"""The extension in a Flask developer's own code, driven by Flask's test client in a fresh
interpreter each (telemetry is configured once per process): app factory and keyword options,
init_app twice, ProxyFix, a before_request that answers, unread test-client responses, the
browser SDK loader, and errors named as written."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

APP = """
import json, logging
from flask import Flask, abort, g, jsonify, request, Response
from flask_ai import ApplicationInsights

def make_app(name="store", **config):
    app = Flask(name)
    app.config.update(APPLICATION_INSIGHTS_CONNECTION_STRING={cs!r},
                      APPLICATION_INSIGHTS_DISABLE_OFFLINE_STORAGE=True, **config)

    @app.get("/items/<int:item_id>")
    def item(item_id):
        return jsonify(id=item_id)

    @app.get("/page")
    def page():
        return "<html><head><title>t</title></head><body>hi</body></html>"

    @app.get("/stream")
    def stream():
        return Response((part for part in ["<html><head></head>", "<body>streamed</body></html>"]),
                        mimetype="text/html")

    @app.get("/me")
    def me():
        g.user = {{"id": 42}}
        return "me"
    return app

def flush(app):
    assert app.extensions["application_insights"].telemetry.force_flush(10)
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _run(emu: Emulator, code: str) -> Any:
    out = run_python(APP.format(cs=emu.connection_string) + code)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("{") or line.startswith("[")]
    return json.loads(lines[-1]) if lines else None, out.stderr


def _requests(emu: Emulator) -> Dict[str, Dict[str, Any]]:
    return {i["envelope"]["data"]["baseData"]["name"]: i["envelope"] for i in emu.items(type="request", limit=100)}


def test_app_factory_with_keyword_options_and_init_app_called_twice(emu: Emulator) -> None:
    _run(emu, """
ai = ApplicationInsights(role_name="from-keyword", excluded_routes=["page"])
app = make_app()
ai.init_app(app)
wrapped = app.wsgi_app
ai.init_app(app)                 # a second init_app: nothing changes
ApplicationInsights(app)         # nor a second extension object on the same app
assert app.wsgi_app is wrapped
client = app.test_client()
assert client.get("/items/1").status_code == 200
assert client.get("/page").status_code == 200
flush(app)
""")
    requests = emu.items(type="request", limit=100)
    assert [r["envelope"]["data"]["baseData"]["name"] for r in requests] == ["GET /items/<int:item_id>"]
    assert requests[0]["envelope"]["tags"]["ai.cloud.role"] == "from-keyword"


def test_excluded_routes_by_rule_and_excluded_urls_by_path(emu: Emulator) -> None:
    _run(emu, """
app = make_app(APPLICATION_INSIGHTS_EXCLUDED_ROUTES=["/items/<int:item_id>"],
               APPLICATION_INSIGHTS_EXCLUDED_URLS=["^/pa"])
ApplicationInsights(app)
client = app.test_client()
for path in ("/items/1", "/page", "/stream?p=/page", "/me"):
    assert client.get(path).status_code == 200
flush(app)
""")
    assert sorted(_requests(emu)) == ["GET /me", "GET /stream"]  # the query string never excludes


def test_app_config_overrides_keyword_options(emu: Emulator) -> None:
    _run(emu, """
app = make_app(APPLICATION_INSIGHTS_ROLE_NAME="from-config")
ApplicationInsights(app, role_name="from-keyword")
app.test_client().get("/items/1")
flush(app)
""")
    assert _requests(emu)["GET /items/<int:item_id>"]["tags"]["ai.cloud.role"] == "from-config"


def test_role_name_defaults_to_app_name(emu: Emulator) -> None:
    _run(emu, """
app = make_app("inventory_service")
ApplicationInsights(app)
app.test_client().get("/items/1")
flush(app)
""")
    assert _requests(emu)["GET /items/<int:item_id>"]["tags"]["ai.cloud.role"] == "inventory_service"


def test_unread_test_client_responses_are_separate_requests(emu: Emulator) -> None:
    # A response body nobody reads keeps the request open; the next request must not become its child.
    _run(emu, """
app = make_app()
ApplicationInsights(app)
client = app.test_client()
responses = [client.get("/items/%d" % n) for n in range(3)]  # kept, never read
assert client.get("/page").status_code == 200
del responses
flush(app)
""")
    requests = emu.items(type="request", limit=100)
    assert len(requests) == 4 and len({r["envelope"]["tags"]["ai.operation.id"] for r in requests}) == 4
    assert emu.items(type="dependency") == []
    assert all("ai.operation.parentId" not in r["envelope"]["tags"] or r["envelope"]["tags"]["ai.operation.parentId"]
               == r["envelope"]["tags"]["ai.operation.id"] for r in requests)


def test_a_before_request_that_answers_is_still_a_request(emu: Emulator) -> None:
    # The stock Flask instrumentation starts its span in a before_request function of its own:
    # one registered before it that answers (a login check) would leave no request at all.
    _run(emu, """
app = make_app()
@app.before_request
def login_check():
    if request.path.startswith("/items/"):
        return "sign in first", 401
ApplicationInsights(app)
assert app.test_client().get("/items/5").status_code == 401
flush(app)
""")
    request = _requests(emu)["GET /items/<int:item_id>"]
    assert request["data"]["baseData"]["responseCode"] == "401"


@pytest.mark.parametrize("order", ["proxyfix-first", "proxyfix-last"])
@pytest.mark.parametrize("trusted", [0, 1])
def test_client_ip_with_werkzeug_proxyfix(emu: Emulator, order: str, trusted: int) -> None:
    # Behind one proxy that appended 203.0.113.9 to what the client sent (6.6.6.6): ProxyFix
    # alone, or ProxyFix and TRUSTED_PROXIES=1 (which must not count the same proxy twice).
    _run(emu, """
from werkzeug.middleware.proxy_fix import ProxyFix
app = make_app(APPLICATION_INSIGHTS_TRUSTED_PROXIES={trusted})
if {first}:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
ApplicationInsights(app)
if not {first}:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
client = app.test_client()
r = client.get("/items/1", headers={{"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}},
               environ_base={{"REMOTE_ADDR": "10.0.0.2"}})
assert r.status_code == 200
flush(app)
""".format(trusted=trusted, first=order == "proxyfix-first"))
    assert _requests(emu)["GET /items/<int:item_id>"]["tags"]["ai.location.ip"] == "203.0.113.9"


def test_g_user_and_user_id_options(emu: Emulator) -> None:
    _run(emu, """
from flask import Blueprint
shop = make_app("shop")
ApplicationInsights(shop)
tenant = make_app("tenant", APPLICATION_INSIGHTS_USER_ID=lambda request: "tenant-" + request.args["t"],
                  APPLICATION_INSIGHTS_ROLE_NAME="tenant")
ApplicationInsights(tenant)
anonymous = make_app("anonymous", APPLICATION_INSIGHTS_USER_ID=False, APPLICATION_INSIGHTS_ROLE_NAME="anonymous")
ApplicationInsights(anonymous)
for app in (shop, tenant, anonymous):
    assert app.test_client().get("/me?t=7").status_code == 200
flush(shop)
""")
    users = {i["envelope"]["tags"]["ai.cloud.role"]: i["envelope"]["tags"].get("ai.user.authUserId")
             for i in emu.items(type="request", limit=100)}
    assert users == {"shop": "42", "tenant": "tenant-7", "anonymous": None}


def test_browser_sdk_loader_in_html_pages_only(emu: Emulator) -> None:
    pages, _ = _run(emu, """
app = make_app(APPLICATION_INSIGHTS_BROWSER_SDK_LOADER=True)
ApplicationInsights(app)
client = app.test_client()
out = {}
for path in ("/page", "/items/1", "/stream"):
    r = client.get(path)
    out[path] = [r.get_data(as_text=True), r.headers.get("Content-Length")]
print(json.dumps(out))
""")
    html, length = pages["/page"]
    assert html.count("<script data-ai-loader>") == 1 and html.index("data-ai-loader") < html.index("</head>")
    assert "InstrumentationKey=00000000-0000-0000-0000-000000000000" in html
    assert length == str(len(html.encode()))
    assert "data-ai-loader" not in pages["/items/1"][0]  # JSON
    assert "data-ai-loader" not in pages["/stream"][0]  # streamed: sent as it is


def test_browser_sdk_loader_is_off_by_default(emu: Emulator) -> None:
    pages, _ = _run(emu, """
app = make_app()
ApplicationInsights(app)
print(json.dumps([app.test_client().get("/page").get_data(as_text=True)]))
""")
    assert "data-ai-loader" not in pages[0]


@pytest.mark.parametrize("code, message", [
    ("ApplicationInsights(make_app(APPLICATION_INSIGHTS_SAMPLING_RATIO=2))",
     "app.config['APPLICATION_INSIGHTS_SAMPLING_RATIO'] in the Flask app must be from 0.0 to 1.0"),
    ("ApplicationInsights(make_app(APPLICATION_INSIGHTS_SAMPLING_RATE=0.5))",
     "did you mean 'APPLICATION_INSIGHTS_SAMPLING_RATIO'?"),
    ("ApplicationInsights(sampling_ratio='half')",
     "sampling_ratio in ApplicationInsights() must be a number from 0.0 to 1.0"),
    ("ApplicationInsights(sampling_rate=0.5)",
     "ApplicationInsights() got an unknown option 'sampling_rate'; did you mean 'sampling_ratio'?"),
])
def test_a_bad_option_is_an_error_naming_it_as_written(emu: Emulator, code: str, message: str) -> None:
    out, _ = _run(emu, """
from ai_core import ConfigurationError
try:
    %s
except ConfigurationError as err:
    print(json.dumps([str(err)]))
""" % code)
    assert message in out[0]
    assert "00000000-0000-0000-0000-000000000000" not in out[0]  # never the key


@pytest.mark.parametrize("testing", [False, True])
def test_an_uncaught_exception_is_one_exception_item_whether_flask_reraises_it_or_not(
        emu: Emulator, testing: bool) -> None:
    # testing (or debug): Flask re-raises the exception to the test (or the debugger) instead of
    # logging it and answering 500.
    _, stderr = _run(emu, """
app = make_app()
app.testing = %s
@app.get("/fail")
def fail():
    raise ValueError("the shelf fell")
ApplicationInsights(app)
try:
    assert app.test_client().get("/fail").status_code == 500
except ValueError:
    assert app.testing
flush(app)
""" % testing)
    if not testing:  # Flask's own console line is still there
        assert "Exception on /fail [GET]" in stderr and "ValueError: the shelf fell" in stderr
    exceptions = emu.items(type="exception")
    assert len(exceptions) == 1
    assert exceptions[0]["envelope"]["tags"]["ai.operation.name"] == "GET /fail"
    request = _requests(emu)["GET /fail"]["data"]["baseData"]
    assert request["responseCode"] == "500" and request["success"] is False
