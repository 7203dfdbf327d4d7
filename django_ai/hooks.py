"""Who made a Django request: the ``user_id`` option's default reader (``ai_core.web.user``).

Called by ``django_ai.middleware`` inside its guard when the response is ready.
"""

from __future__ import annotations

from typing import Any, Optional

from ai_core.web.user import user_id_of


def django_user_id(request: Any) -> Optional[str]:
    """The authenticated user's primary key, read after the middleware and the view ran.

    Whoever set ``request.user`` counts: ``AuthenticationMiddleware`` (the session),
    ``RemoteUserMiddleware``, Django REST framework's authentication (it sets the user on the
    Django request), or a token middleware of the project's own that sets a lazy
    ``request.user``. Reading a lazy user runs its loader once, with its queries kept out of
    the request's dependencies (``ai_core.web.user``). Only ``AuthenticationMiddleware``'s
    own lazy user is left unread when the browser sent no session cookie: it can only be
    anonymous then, and reading it would cost a session lookup on every anonymous request.
    """
    user = getattr(request, "user", None)
    if user is None:
        return None
    if not _is_evaluated(user) and _is_session_user(user) and not _has_session_cookie(request):
        return None
    return user_id_of(user)


def no_user_to_read(request: Any) -> bool:
    """True when :func:`django_user_id` would answer None without reading anything: no
    ``request.user`` at all (no authentication middleware), or ``AuthenticationMiddleware``'s
    lazy user on a request without a session cookie. The middleware asks this first, so an
    anonymous request does not pay for the reader's set-up (instrumentation suppressed
    around it); any other user is left to the reader."""
    user = request.__dict__.get("user")
    if user is None:
        return not hasattr(type(request), "user")  # a request class with a user of its own: read it
    return not _is_evaluated(user) and _is_session_user(user) and not _has_session_cookie(request)


def _is_evaluated(lazy: Any) -> bool:
    from django.utils.functional import empty

    wrapped = getattr(lazy, "_wrapped", None)
    return wrapped is not None and wrapped is not empty or not hasattr(lazy, "_wrapped")


def _is_session_user(lazy: Any) -> bool:
    """Whether a lazy user is the one ``AuthenticationMiddleware`` set (read from the session).
    Its loader lives in that module; reading ``_setupfunc`` does not evaluate the object."""
    loader = getattr(lazy, "_setupfunc", None)
    return getattr(loader, "__module__", None) == "django.contrib.auth.middleware"


def _has_session_cookie(request: Any) -> bool:
    from django.conf import settings

    return settings.SESSION_COOKIE_NAME in getattr(request, "COOKIES", {})
