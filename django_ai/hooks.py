"""The stock Django instrumentation's request and response hooks: Django's request objects
read, ``ai_core.web`` called. Every hook body is guarded: telemetry never breaks a request.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry.trace import set_span_in_context

from ai_core.web.guard import guarded
from ai_core.web.setup import AppRequestRules
from ai_core.web.streaming import defer_end
from ai_core.web.user import user_id_of
from django_ai.routes import request_route


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


class Hooks:
    """The two hooks, bound to this process's request rules."""

    def __init__(self, web: AppRequestRules) -> None:
        self._web = web

    def request(self, span: Any, request: Any) -> None:
        if not span.is_recording():
            return
        with guarded("reading the Django request"):
            meta = request.META
            ip = self._web.client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"),
                                     meta.get("HTTP_FORWARDED"))
            self._web.annotate(span, client_ip=ip)

    def response(self, span: Any, request: Any, response: Any) -> None:
        if not span.is_recording():
            return
        with guarded("reading the Django response"):
            self._web.annotate(span, route=request_route(request), auth_user_id=self._web.user_id(request))
            # Django logs "Not Found: /x" after the span has ended; the log filter finds the
            # request's context here (django_ai.logs).
            request._ai_core_context = set_span_in_context(span)
        with guarded("waiting for the streamed body"):
            if getattr(response, "streaming", False):
                _end_after_body(span, response)
                return
        if self._web.injects_browser_sdk:
            with guarded("adding the browser SDK loader"):
                page = self._web.page_with_browser_sdk(
                    response.content, response.get("Content-Type"), response.get("Content-Encoding")
                )
                if page is not None:
                    response.content = page
                    if response.has_header("Content-Length"):
                        response["Content-Length"] = str(len(page))


def _end_after_body(span: Any, response: Any) -> None:
    """The stock middleware ends the span next; a streamed body is sent after that. Django
    closes the response once the server has sent the body (WSGI and ASGI handlers alike)."""
    closers = getattr(response, "_resource_closers", None)
    if isinstance(closers, list):
        closers.append(defer_end(span))
