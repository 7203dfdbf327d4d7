"""The routes: app-level ones (endpoint ``health``) and an ``api`` blueprint (``api.health``)."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator, Optional

from flask import Blueprint, Flask, Response, abort, g, jsonify, request, stream_with_context
from flask_login import UserMixin, current_user, login_required, login_user

from flasksite import db, login_manager

log = logging.getLogger("flasksite")
api = Blueprint("api", __name__)


class User(UserMixin):
    def __init__(self, id: int, name: str) -> None:
        self.id = id
        self.name = name


@login_manager.user_loader
def load_user(user_id: str) -> Optional[User]:
    row = db.query_one("SELECT id, name FROM users WHERE id = ?", (int(user_id),))
    return User(row["id"], row["name"]) if row else None


def _item(item_id: int) -> Any:
    row = db.query_one("SELECT id, name FROM items WHERE id = ?", (item_id,))
    if row is None:
        abort(404)
    return jsonify(id=row["id"], name=row["name"])


def _checked() -> str:
    db.query("SELECT 1")
    log.warning("health checked %s", request.args.get("t"))
    return "ok"


def _slowly(parts: int = 3) -> Iterator[str]:
    for number in range(parts):
        time.sleep(0.3)
        yield "part %d\n" % number


def register(app: Flask) -> None:
    app.register_blueprint(api, url_prefix="/api")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        return _item(item_id)

    @app.get("/fail")
    def fail() -> Any:
        raise RuntimeError("the teapot broke")

    @app.get("/health")
    def health() -> Any:
        return _checked()

    @app.get("/skip/<what>")
    def skipped(what: str) -> Any:
        return _checked()

    @app.get("/orders")
    def orders() -> Any:
        return jsonify([dict(row) for row in db.query("SELECT id, name FROM items")])

    @app.post("/login")
    def login() -> Any:
        user = load_user("7") if request.form.get("user") == "alice" else None
        if user is None:
            abort(403)
        login_user(user)
        return "signed in"

    @app.get("/account")
    @login_required
    def account() -> Any:
        db.query("SELECT name FROM users WHERE id = ?", (current_user.id,))
        return jsonify(user=current_user.name)

    @app.get("/guest")
    def guest() -> Any:
        g.user = db.query_one("SELECT id, name FROM users WHERE id = 7")  # a sqlite3.Row, as in Flask's tutorial
        return "hello %s" % g.user["name"]

    @app.get("/stream")
    def stream() -> Any:
        return Response(stream_with_context(_slowly()), mimetype="text/plain")

    @app.get("/stream-plain")
    def stream_plain() -> Any:
        return Response(_slowly(), mimetype="text/plain")  # no request context while it is sent

    @app.get("/log")
    def log_line() -> Any:
        log.warning("a log line %s", request.args.get("t"))
        return "logged"

    @app.get("/page")
    def page() -> Any:
        return "<html><head><title>shop</title></head><body>hi</body></html>"


@api.get("/health")
def health() -> Any:
    return _checked()


@api.get("/items/<int:item_id>")
def item(item_id: int) -> Any:
    return _item(item_id)
