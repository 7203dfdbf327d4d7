"""Sign-in with Flask-Login (``alice`` / ``wonderland``). The signed-in user's id is the
authenticated user of every request, dependency and log line that follows; a sign-in is also
a ``UserLoggedIn`` custom event."""

from __future__ import annotations

import logging
from typing import Any, Optional

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import UserMixin, login_required, login_user, logout_user, user_logged_in
from werkzeug.security import check_password_hash

import ai_core
from flask_shop import db, login_manager

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


class User(UserMixin):
    def __init__(self, id: int, username: str) -> None:
        self.id = id
        self.username = username


@login_manager.user_loader
def load_user(user_id: str) -> Optional[User]:
    row = db.query_one("SELECT id, username FROM users WHERE id = ?", (int(user_id),))
    return User(row["id"], row["username"]) if row else None


@user_logged_in.connect
def _signed_in(sender: Any, user: User, **extra: Any) -> None:
    ai_core.track_event("UserLoggedIn", properties={"username": user.username})


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "")
        row = db.query_one("SELECT id, username, password FROM users WHERE username = ?", (username,))
        if row is not None and check_password_hash(row["password"], request.form.get("password", "")):
            login_user(User(row["id"], row["username"]))
            log.info("%s signed in", username)
            return redirect(request.args.get("next") or url_for("shop.account"))
        log.warning("failed sign-in for %r", username)
        flash("Unknown user or wrong password.")
    return render_template("login.html")


@bp.post("/logout")
@login_required
def logout() -> Any:
    logout_user()
    return redirect(url_for("shop.products"))
