"""Flask-Login users who authenticate without the session (an API token through a
``request_loader`` or the deprecated ``header_loader``, a "remember me" cookie) are the
request's authenticated user even when the view never reads ``current_user``; the loader's
query is not a dependency of the request, a loader that raises costs the tag only, and what
Flask-Login writes to the session while loading (the remember cookie's sign-in) is saved.
Flask's test client in a fresh interpreter, telemetry to the emulator over HTTP."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

APP = """
import json, sqlite3, sys, warnings
from flask import Flask, request
from flask_login import LoginManager, UserMixin, login_user
from flask_ai import ApplicationInsights

DB = sys.argv[1] if len(sys.argv) > 1 else {db!r}
with sqlite3.connect(DB) as setup:
    setup.executescript(
        "CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, token TEXT);"
        "INSERT OR IGNORE INTO users VALUES ('alice', 'token-alice');"
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT OR IGNORE INTO items VALUES (1, 'lamp');")


class User(UserMixin):
    def __init__(self, id):
        self.id = id


def user_by(column, value):
    with sqlite3.connect(DB) as db:
        row = db.execute("SELECT id FROM users WHERE " + column + " = ?", (value,)).fetchone()
    return User(row[0]) if row else None


def make_app(loader):
    app = Flask("shop")
    app.config.update(SECRET_KEY="test-only", APPLICATION_INSIGHTS_CONNECTION_STRING={cs!r},
                      APPLICATION_INSIGHTS_DISABLE_OFFLINE_STORAGE=True)
    login = LoginManager(app)
    login.user_loader(lambda user_id: user_by("id", user_id))
    if loader == "request":
        @login.request_loader
        def from_token(req):
            token = req.headers.get("Authorization", "").removeprefix("Bearer ")
            if token == "explode":
                raise RuntimeError("token service down")
            return user_by("token", token) if token else None
    elif loader == "header":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            login.header_loader(lambda header: user_by("token", header.removeprefix("Bearer ")))
    ApplicationInsights(app)

    @app.get("/items/<int:item_id>")
    def item(item_id):  # never reads current_user
        with sqlite3.connect(DB) as db:
            return {{"name": db.execute("SELECT name FROM items WHERE id = ?", (item_id,)).fetchone()[0]}}

    @app.post("/login")
    def sign_in():
        login_user(User("alice"), remember=True)
        return "signed in"
    return app


def flush(app):
    assert app.extensions["application_insights"].telemetry.force_flush(10)
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _run(emu: Emulator, tmp_path: Any, code: str) -> Any:
    out = run_python(APP.format(cs=emu.connection_string, db=str(tmp_path / "shop.db")) + code)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _by_case(emu: Emulator, count: int) -> Dict[str, Dict[str, Any]]:
    """Each request by the ``?case=`` its test gave it, with its operation's dependencies."""
    found = {}
    for item in emu.wait_for_items(count=count, timeout=30, type="request"):
        envelope = item["envelope"]
        case = envelope["data"]["baseData"]["url"].split("case=")[1]
        deps: List[Dict[str, Any]] = [i["envelope"] for i in emu.operation(envelope["tags"]["ai.operation.id"])
                                      if i["type"] == "dependency"]
        found[case] = {"tags": envelope["tags"], "code": envelope["data"]["baseData"]["responseCode"],
                       "sql": [d["data"]["baseData"]["data"] for d in deps]}
    return found


VIEW_SQL = ["SELECT name FROM items WHERE id = ?"]


def test_a_request_loader_user_is_recorded_without_its_query(emu: Emulator, tmp_path: Any) -> None:
    headers = _run(emu, tmp_path, """
app = make_app("request")
client = app.test_client()
token = client.get("/items/1?case=token", headers={"Authorization": "Bearer token-alice"})
anonymous = client.get("/items/1?case=anonymous")
broken = client.get("/items/1?case=broken-loader", headers={"Authorization": "Bearer explode"})
assert (token.status_code, anonymous.status_code, broken.status_code) == (200, 200, 200)
flush(app)
print(json.dumps({"anonymous": dict(anonymous.headers)}))
""")
    found = _by_case(emu, 3)
    assert found["token"]["tags"].get("ai.user.authUserId") == "alice"
    assert found["token"]["sql"] == VIEW_SQL  # the loader's SELECT on users is not the request's
    assert "ai.user.authUserId" not in found["anonymous"]["tags"]
    assert found["broken-loader"]["code"] == "200" and "ai.user.authUserId" not in found["broken-loader"]["tags"]
    assert "Set-Cookie" not in headers["anonymous"]  # reading the user changed nothing in the answer


def test_a_header_loader_user_is_recorded(emu: Emulator, tmp_path: Any) -> None:
    _run(emu, tmp_path, """
app = make_app("header")
client = app.test_client()
assert client.get("/items/1?case=header", headers={"Authorization": "Bearer token-alice"}).status_code == 200
flush(app)
print("{}")
""")
    found = _by_case(emu, 1)
    assert found["header"]["tags"].get("ai.user.authUserId") == "alice"
    assert found["header"]["sql"] == VIEW_SQL


def test_a_remember_me_cookie_user_is_recorded_and_signed_in(emu: Emulator, tmp_path: Any) -> None:
    """The remember cookie's sign-in writes the user into the session: it must be saved, so the
    browser's next request is signed in by its session alone."""
    _run(emu, tmp_path, """
app = make_app(None)
first = app.test_client()
assert first.post("/login?case=login").status_code == 200
remember = first.get_cookie("remember_token")
assert remember is not None
browser = app.test_client()  # the browser came back later: its session ended, the cookie remains
browser.set_cookie("remember_token", remember.value)
assert browser.get("/items/1?case=remembered").status_code == 200
assert browser.get_cookie("session") is not None, "Flask-Login's sign-in was not saved in the session"
browser.delete_cookie("remember_token")
assert browser.get("/items/1?case=session").status_code == 200
flush(app)
print("{}")
""")
    found = _by_case(emu, 3)
    assert found["remembered"]["tags"].get("ai.user.authUserId") == "alice"
    assert found["remembered"]["sql"] == VIEW_SQL
    assert found["session"]["tags"].get("ai.user.authUserId") == "alice"
