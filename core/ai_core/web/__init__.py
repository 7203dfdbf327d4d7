"""The request layer: what an incoming request means for telemetry, written once for every adapter.

Plain values in and out, no framework imports: an adapter (``django_ai``, ``flask_ai``,
``fastapi_ai``) reads its framework's objects and calls these. The data path of a request::

    setup_web(options, label, source, ...) -> AppRequestRules (once per app, at start-up)
    rules.excludes(path, route_names)     -> run inside excluded_request() when True
    rules.client_ip(peer, xff, forwarded) -> rules.annotate(span, route=..., client_ip=..., auth_user_id=...)
    rules.user_id(request)                   record_uncaught_exception(span, exc)
    operation_name / route_template          guarded("...") once, where the adapter's hook begins
    rules.stop()                          -> at lifespan shutdown / worker exit / SIGTERM

Names, so a reader need not guess which object is which:

* :class:`ai_core.telemetry.Telemetry`: the process's pipeline, what ``ai_core.configure()``
  returns (flush, shut down, the providers). One per process.
* :class:`AppRequestRules`: one web app's request rules over that pipeline (its role,
  exclusions, user and client-IP rules), what :func:`setup_web` returns. One per app; two apps
  in one process share the ``Telemetry`` and keep their own rules.
* The adapters' own: ``flask_ai.ExtensionState`` is what ``app.extensions["application_insights"]``
  holds (the app's ``AppRequestRules``); ``fastapi_ai.request.AppInServerSpan`` is the ASGI app
  the contrib middleware calls, which runs the user's app inside the request's server span.
"""

from ai_core.web.annotation import annotate_request, record_uncaught_exception
from ai_core.web.client_ip import client_ip
from ai_core.exclusion import Exclusion, excluded_request
from ai_core.web.guard import guard, guarded
from ai_core.web.naming import NOT_FOUND_ROUTE, operation_name, route_template
from ai_core.web.setup import AppRequestRules, setup_web
from ai_core.web.stop import graceful_stop
from ai_core.web.user import UserResolver

__all__ = [
    "NOT_FOUND_ROUTE",
    "AppRequestRules",
    "Exclusion",
    "UserResolver",
    "annotate_request",
    "client_ip",
    "excluded_request",
    "graceful_stop",
    "guard",
    "guarded",
    "operation_name",
    "record_uncaught_exception",
    "route_template",
    "setup_web",
]
