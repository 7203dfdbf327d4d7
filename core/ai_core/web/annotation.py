"""The one place that knows which span attributes carry a request's route, client IP and user.

Adapters write them here (:func:`annotate_request`, :func:`record_uncaught_exception`); the
envelope mapping and the request context read them back with the readers below, so a
request, its dependencies, its logs and its exceptions all agree on who called and how
the request is named (README, "Deliberate differences" 1, 3, 4 and 5).
"""

from __future__ import annotations

from typing import Any, MutableMapping, Mapping, Optional

from ai_core.span_attributes import span_attributes

ROUTE = "http.route"
# Read in this order: the address an adapter resolved (trusted-proxy rule) is written to
# ``client.address``, which the stable HTTP conventions define as the originating client;
# the older keys are what the stock instrumentations set on their own.
CLIENT_ADDRESS = "client.address"
CLIENT_IP_KEYS = (CLIENT_ADDRESS, "http.client_ip", "net.peer.ip")
AUTH_USER_ID = "enduser.id"  # -> ai.user.authUserId
USER_ID = "enduser.pseudo.id"  # -> ai.user.id
STATUS_CODE_KEYS = ("http.response.status_code", "http.status_code")
# The role of the app that served the request, when one process serves several apps with
# their own role names (two Flask apps): set on the request span, carried in the tags of
# every item of the request under APP_ROLE_KEY, which the exporter turns into ai.cloud.role
# after the process's own role tags.
APP_ROLE = "ai.cloud.role"
APP_ROLE_KEY = "_ai_app_role"

# Envelope tags these attributes become, shared by spans and logs.
TAG_OPERATION_NAME = "ai.operation.name"
TAG_CLIENT_IP = "ai.location.ip"
TAG_AUTH_USER_ID = "ai.user.authUserId"
TAG_USER_ID = "ai.user.id"


def _first(attrs: Optional[Mapping[str, Any]], keys: tuple) -> Optional[str]:
    if not attrs:
        return None
    for key in keys:
        value = attrs.get(key)
        if value:
            return value if value.__class__ is str else str(value)
    return None


def client_ip_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The client address a request's attributes carry (``ai.location.ip``)."""
    return _first(attrs, CLIENT_IP_KEYS)


def auth_user_id_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The authenticated user ID (``ai.user.authUserId``)."""
    return _first(attrs, (AUTH_USER_ID,))


def user_id_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The anonymous/pseudonymous user ID (``ai.user.id``)."""
    return _first(attrs, (USER_ID,))


def app_role_of(attrs: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The role name of the app that served the request, if it has its own."""
    return _first(attrs, (APP_ROLE,))


def fill_request_tags(
    tags: MutableMapping[str, Any],
    operation_name: Optional[str],
    client_ip: Optional[str],
    auth_user_id: Optional[str],
    user_id: Optional[str],
    replace_name: bool,
    role_name: Optional[str] = None,
) -> None:
    """Give an item recorded inside a request that request's name, client IP and user.

    ``replace_name``: a dependency's own name is replaced (grouping it under its request is the
    point), while a log record that set ``ai.operation.name`` itself keeps it. IP and user
    tags the item set itself always win.
    """
    if operation_name and (replace_name or TAG_OPERATION_NAME not in tags):
        tags[TAG_OPERATION_NAME] = operation_name
    if client_ip and TAG_CLIENT_IP not in tags:
        tags[TAG_CLIENT_IP] = client_ip
    if auth_user_id and TAG_AUTH_USER_ID not in tags:
        tags[TAG_AUTH_USER_ID] = auth_user_id
    if user_id and TAG_USER_ID not in tags:
        tags[TAG_USER_ID] = user_id
    if role_name:
        tags[APP_ROLE_KEY] = role_name


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
    if role_name:
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
