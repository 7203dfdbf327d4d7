"""What ``fastapi_ai`` reads from an ASGI scope and the app: the peer and proxy headers, the
signed-in user, the app's name. The rules that turn them into telemetry are ``ai_core.web``'s.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional, Tuple

from ai_core.web.user import user_id_of

FASTAPI_DEFAULT_TITLE = "FastAPI"
_FRAMEWORK_MODULES = ("fastapi", "starlette", "uvicorn", "gunicorn", "fastapi_ai", "ai_core", "anyio", "asyncio")


def peer_and_proxy_headers(scope: Any) -> Tuple[Optional[str], List[bytes], List[bytes], bool]:
    """``(peer, X-Forwarded-For lines, Forwarded lines, peer_rewritten)`` of a request.

    ``peer_rewritten``: the server already replaced the socket peer from ``X-Forwarded-For``.
    uvicorn does so by default (``--proxy-headers``, for connections from
    ``--forwarded-allow-ips``, 127.0.0.1 unless set) and gives the new peer port 0, which no
    TCP peer has; so does every server that takes the address from a header without a port.
    ``ai_core.web.client_ip`` then does not count the peer as a proxy hop.
    """
    client = scope.get("client")
    peer: Optional[str] = None
    rewritten = False
    if client:
        host = client[0]
        peer = str(host) if host else None
        rewritten = peer is not None and len(client) > 1 and client[1] == 0
    forwarded_for: List[bytes] = []
    forwarded: List[bytes] = []
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            forwarded_for.append(value)
        elif name == b"forwarded":
            forwarded.append(value)
    return peer, forwarded_for, forwarded, rewritten and bool(forwarded_for or forwarded)


def starlette_user_id(request: Any) -> Optional[str]:
    """The ``user_id=True`` reader: ``scope["user"]`` as Starlette's ``AuthenticationMiddleware``
    sets it, read when the response starts (after authentication ran, wherever that
    middleware sits). Its ``identity`` (``display_name`` if it has none); anonymous users
    (``is_authenticated`` false) give nothing."""
    user = request.scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    try:
        identity = user.identity
    except NotImplementedError:  # BaseUser subclasses need not define it
        identity = getattr(user, "display_name", None)
    return user_id_of(identity)


def connection_of(scope: Any) -> Any:
    """What a ``user_id`` callable is given: a Starlette ``Request`` (a ``WebSocket`` session's
    ``HTTPConnection``), sharing the request's ``scope``, so ``request.state``,
    ``request.headers`` and ``request.user`` read what the app set."""
    if scope.get("type") == "http":
        from starlette.requests import Request

        return Request(scope)
    from starlette.requests import HTTPConnection

    return HTTPConnection(scope)


def app_name(app: Any) -> Optional[str]:
    """The role default: a FastAPI app's ``title`` unless it is FastAPI's default one, else the
    top-level package of the module that holds the app (``shop`` for ``uvicorn shop.main:app``)."""
    if app is None:
        return None
    title = getattr(app, "title", None)
    if isinstance(title, str) and title.strip() and title.strip() != FASTAPI_DEFAULT_TITLE:
        return title.strip()
    module = _module_holding(app) or _module_of_endpoints(app)
    return module.split(".")[0] if module else None


def _module_holding(app: Any) -> Optional[str]:
    """The module with a global that is ``app`` (``main`` of ``uvicorn main:app``)."""
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] in _FRAMEWORK_MODULES:
            continue
        try:
            if any(value is app for value in vars(module).values()):
                return name if name != "__main__" else _script_name(module)
        except Exception:  # an odd module object: not ours to judge
            continue
    return None


def _module_of_endpoints(app: Any) -> Optional[str]:
    """An app built in a factory: the module of its first own endpoint."""
    for route in getattr(app, "routes", None) or ():
        module = getattr(getattr(route, "endpoint", None), "__module__", None)
        if isinstance(module, str) and module.split(".")[0] not in _FRAMEWORK_MODULES:
            return module
    return None


def _script_name(module: Any) -> Optional[str]:
    path = getattr(module, "__file__", None)
    return os.path.splitext(os.path.basename(path))[0] if path else None
