"""Adapters write what they learned about a request onto its server span here.

:func:`annotate_request` and :func:`record_uncaught_exception` write the attributes that
:mod:`ai_core.request_attributes` names; the envelope mapping and the request context read
them back there, so a request, its dependencies, its logs and its exceptions all agree on who
called and how the request is named (README, "Deliberate differences" 1, 3, 4 and 5).
"""

from __future__ import annotations

from typing import Any, Optional

# ROUTE and STATUS_CODE_KEYS are also the adapters' names for these keys (flask_ai, fastapi_ai).
from ai_core.request_attributes import APP_ROLE, AUTH_USER_ID, CLIENT_ADDRESS, ROUTE, STATUS_CODE_KEYS
from ai_core.span_attributes import span_attributes


def annotate_request(
    span: Any,
    route: Optional[str] = None,
    client_ip: Optional[str] = None,
    auth_user_id: Optional[str] = None,
    role_name: Optional[str] = None,
) -> None:
    """Write what an adapter learned about a request onto its server span.

    ``route`` is the template :func:`ai_core.web.naming.route_template` gave (it names the
    Request, and the span too, so other exporters agree). Values that are None are left alone;
    a span that is not recording (sampled out, excluded) costs nothing.
    """
    if span is None or not span.is_recording():
        return
    if route and _attribute(span, ROUTE) != route:  # adapters may name it twice (view start, response)
        span.set_attribute(ROUTE, route)
        method = _attribute(span, "http.request.method") or _attribute(span, "http.method")
        if method:
            span.update_name("%s %s" % (method, route))
    if client_ip:
        span.set_attribute(CLIENT_ADDRESS, client_ip)
    if auth_user_id:
        span.set_attribute(AUTH_USER_ID, auth_user_id)
    if role_name and _attribute(span, APP_ROLE) != role_name:
        span.set_attribute(APP_ROLE, role_name)


def record_uncaught_exception(span: Any, exc: BaseException) -> None:
    """The 500 rule: an exception that escaped the app is one exception item on a failed
    request answered 500, whatever the server later writes (the official stack can report
    response code 0 and success true for it).

    Safe to call when a stock instrumentation already recorded the same exception: the event
    is added only once.
    """
    from opentelemetry.trace import Status, StatusCode

    if span is None or not span.is_recording():
        return
    if not _has_exception_event(span, exc):
        span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, "%s: %s" % (type(exc).__name__, exc)))
    if not any(_attribute(span, key) for key in STATUS_CODE_KEYS):
        # Both spellings: the stock instrumentations use one or the other by semconv mode.
        span.set_attribute("http.response.status_code", 500)
        span.set_attribute("http.status_code", 500)


def _attribute(span: Any, key: str) -> Any:
    return span_attributes(span).get(key)


def _has_exception_event(span: Any, exc: BaseException) -> bool:
    type_name = type(exc).__qualname__
    module = type(exc).__module__
    full = type_name if module in ("builtins", "__main__") else "%s.%s" % (module, type_name)
    for event in getattr(span, "events", ()) or ():
        if event.name == "exception" and (event.attributes or {}).get("exception.type") in (full, type_name):
            return True
    return False
