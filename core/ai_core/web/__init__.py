"""The request layer: what an incoming request means for telemetry, written once for every adapter.

Plain values in and out, no framework imports: an adapter (``django_ai``, ``flask_ai``,
``fastapi_ai``) reads its framework's objects and calls these. The data path of a request::

    setup_web(settings, ...)            -> WebTelemetry (once per app, at start-up)
    web.excludes(path, route_names)     -> run inside excluded_request() when True
    web.client_ip(peer, xff, forwarded) -> annotate_request(span, route=..., client_ip=..., auth_user_id=...)
    web.user_id(request)                   record_uncaught_exception(span, exc)
    operation_name / route_template        guarded("...") around every call of ours
    web.stop()                          -> at lifespan shutdown / worker exit / SIGTERM

``setup_web`` and ``WebTelemetry`` live in :mod:`ai_core.web.setup` (imported on use, since
they build the pipeline).
"""

from ai_core.web.annotation import annotate_request, record_uncaught_exception
from ai_core.web.client_ip import client_ip
from ai_core.exclusion import Exclusion, excluded_request
from ai_core.web.guard import guard, guarded
from ai_core.web.naming import NOT_FOUND_ROUTE, operation_name, route_template
from ai_core.web.stop import graceful_stop
from ai_core.web.user import UserResolver

__all__ = [
    "NOT_FOUND_ROUTE",
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
]
