"""Who made a Flask request (``user_id`` True): Flask-Login's user, else ``g.user``.

Read when the response is ready, after the app's own authentication ran. Anonymous users
give nothing. The reader must not change the request it observes, so it reads only what the
request already has: the user Flask-Login loaded, or, when the session says someone is
signed in, Flask-Login's ``current_user`` with its user query kept out of the telemetry.
It never triggers Flask-Login's remember-cookie or request loaders, whose session changes
would come after the session was saved.
"""

from __future__ import annotations

from typing import Any, Optional

# Flask-Login's own names: where it caches the request's user, and the session key of the
# signed-in user's id (flask_login.utils.login_user / _get_user).
_LOADED_USER = "_login_user"
_SESSION_USER_ID = "_user_id"


def flask_user_id(request: Any) -> Optional[str]:
    """The authenticated user's id: Flask-Login's ``current_user.get_id()``, else the ``id``
    of ``g.user`` (a model object, or a row as in Flask's tutorial); None when anonymous."""
    from flask import g

    found = _flask_login_user_id()
    if found is not None:
        return found
    return _id_of(g.get("user"))


def _flask_login_user_id() -> Optional[str]:
    from flask import current_app, g, session

    if getattr(current_app, "login_manager", None) is None:
        return None  # Flask-Login not installed, or not set up for this app
    user = g.get(_LOADED_USER)
    if user is None:
        if session.get(_SESSION_USER_ID) is None:
            return None
        from flask_login import current_user
        from opentelemetry.instrumentation.utils import suppress_instrumentation

        with suppress_instrumentation():  # the user_loader's query is ours, not the request's
            user = current_user._get_current_object()
    return _id_of(user)


def _id_of(user: Any) -> Optional[str]:
    if user is None or not getattr(user, "is_authenticated", True):
        return None
    get_id = getattr(user, "get_id", None)
    if callable(get_id):
        value = get_id()
    else:
        value = getattr(user, "id", None)
        if value is None:
            try:
                value = user["id"]  # sqlite3.Row, a dict
            except (TypeError, KeyError, IndexError):
                return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)
