"""Who made a Flask request (``user_id`` True): Flask-Login's user, else ``g.user``.

Read once the response is ready, before the session is saved (``flask_ai.signals``): the
app's own authentication has run, and whatever Flask-Login's loaders write into the session
while loading (the "remember me" cookie signs the user in again) is still saved. So a request
that carries credentials Flask-Login accepts (the session, the remember cookie, a
``request_loader`` or ``header_loader`` token) has its user even when the view never read
``current_user``. The loaders' queries are not the request's dependencies (the resolver
suppresses instrumentation while it reads). A request with no credentials costs no loader
call.
"""

from __future__ import annotations

from typing import Any, Optional

from ai_core.web.user import user_id_of

# Flask-Login's own names: where it caches the request's user, the session key of the
# signed-in user's id, its default remember cookie and token header (flask_login.config).
_LOADED_USER = "_login_user"
_SESSION_USER_ID = "_user_id"
_REMEMBER_COOKIE = "remember_token"
_AUTH_HEADER = "Authorization"


def flask_user_id(request: Any) -> Optional[str]:
    """The authenticated user's id: Flask-Login's ``current_user.get_id()``, else the ``id``
    of ``g.user`` (a model object, or a row as in Flask's tutorial); None when anonymous."""
    from flask import g

    found = _flask_login_user_id(request)
    if found is not None:
        return found
    return user_id_of(g.get("user"))


def may_have_user() -> bool:
    """Whether :func:`flask_user_id` could find anyone: Flask-Login is set up for the app or
    ``g.user`` is set. When neither is, it answers None, and the request skips the reader."""
    from flask import current_app, g

    return getattr(current_app, "login_manager", None) is not None or g.get("user") is not None


def _flask_login_user_id(request: Any) -> Optional[str]:
    from flask import current_app, g, session

    manager = getattr(current_app, "login_manager", None)
    if manager is None:
        return None  # Flask-Login not installed, or not set up for this app
    user = g.get(_LOADED_USER)
    if user is None:
        if not _has_credentials(manager, current_app.config, request, session):
            return None
        from flask_login import current_user

        user = current_user._get_current_object()  # runs Flask-Login's loaders
    return user_id_of(user)


def _has_credentials(manager: Any, config: Any, request: Any, session: Any) -> bool:
    """Whether Flask-Login could load a user for this request (``LoginManager._load_user``'s
    sources): a request without any costs no loader call."""
    if _SESSION_USER_ID in session:
        return True
    if getattr(manager, "request_callback", None) is not None:
        return True
    if config.get("REMEMBER_COOKIE_NAME", _REMEMBER_COOKIE) in request.cookies:
        return True
    return (getattr(manager, "_header_callback", None) is not None
            and config.get("AUTH_HEADER_NAME", _AUTH_HEADER) in request.headers)
