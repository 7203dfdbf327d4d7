"""Which route of the app a request is for, decided before the request span starts.

Requests are named by route template with every router prefix and mount on the way
(``GET /api/orders/{order_id}``), and ``excluded_routes`` may name a route by its name or its
template. Both are known before the app runs, by matching the request against the app's
routes the way Starlette's router does (``route.matches(scope)`` on a copy of the scope, so
the request itself is untouched): exclusion has to be decided before the span starts, and
the router's own result is not enough in FastAPI 0.165+, whose ``scope["route"]`` is the
included router's route without its prefix.

Matching walks every route with its regular expression (~15-20 us for a small app, the
largest part of what the adapter adds to a hello-world request), so the answers are kept
per app for the requests that come again (same type, method, root path and path, and host
when the app routes by host), up to ``CACHE_SIZE`` of them. A route added to the app's route
list empties the app's cache; one added later to a router already included is not seen by
requests answered from the cache (routes are set up before an app serves).
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

try:  # FastAPI 0.165+ keeps included routers as one entry; this lists their routes with prefixes
    from fastapi.routing import iter_route_contexts as _with_prefixes
except ImportError:  # older FastAPI copies included routes into the app with prefixes; plain Starlette
    _with_prefixes = None

_FULL, _PARTIAL = 2, 1  # starlette.routing.Match values, compared by value to keep this import-light
_MOUNT_TAIL = "/{path}"  # a Mount's own pattern is "<prefix>/{path:path}"


class RouteMatch:
    """What the app's routes say about one request.

    ``template`` is the full path template (``"/api/orders/{order_id}"``), None when no route
    matched (the request is named ``<METHOD> /<not found>``); ``names`` are what
    ``excluded_routes`` may use: the template, the route's name and, inside a named mount,
    ``"mount:name"`` (Starlette's ``url_path_for`` spelling).
    """

    __slots__ = ("template", "names")

    def __init__(self, template: Optional[str] = None, names: Sequence[str] = ()) -> None:
        self.template = template
        self.names = tuple(names)


NO_MATCH = RouteMatch()


CACHE_SIZE = 1024


class _AppRoutes:
    """One app's routes as matched (flattened once) and the answers already given."""

    __slots__ = ("version", "flat", "by_host", "answers", "__weakref__")

    def __init__(self, routes: List[Any], version: Tuple[int, int]) -> None:
        self.version = version
        self.flat = _flat(routes)
        self.by_host = _routes_by_host(self.flat)
        self.answers: Dict[Tuple[Any, ...], RouteMatch] = {}


_APPS: "weakref.WeakKeyDictionary[Any, _AppRoutes]" = weakref.WeakKeyDictionary()


def match_request(app: Any, scope: Any) -> RouteMatch:
    """The route ``app`` will serve this HTTP or WebSocket request with.

    A route that matches the path but not the method (405) still names the request. A path
    the router would redirect to its trailing-slash twin (``redirect_slashes``) is named by
    the route it redirects to.
    """
    routes = getattr(app, "routes", None)
    if not routes:
        return NO_MATCH
    known = _known(app, routes)
    if known is None:
        return _match_uncached(app, routes, scope)
    key = (scope.get("type"), scope.get("method"), scope.get("root_path"), scope.get("path"),
           _host(scope) if known.by_host else None)
    found = known.answers.get(key)
    if found is None:
        found = _match_uncached(app, known.flat, scope)
        answers = known.answers
        if len(answers) >= CACHE_SIZE:
            answers.clear()  # many distinct paths (ids in them): start again
        answers[key] = found
    return found


def _known(app: Any, routes: Any) -> Optional[_AppRoutes]:
    version = (id(routes), len(routes))
    try:
        known = _APPS.get(app)
        if known is None or known.version != version:
            known = _APPS[app] = _AppRoutes(routes, version)
    except TypeError:  # an app object that cannot be weakly referenced: match every time
        return None
    return known


def _match_uncached(app: Any, routes: Iterable[Any], scope: Any) -> RouteMatch:
    found = _match(routes, dict(scope), "", ())
    if found is None and scope.get("type") == "http" and getattr(getattr(app, "router", app), "redirect_slashes", False):
        path = scope.get("path") or ""
        if path not in ("", "/"):
            twin = dict(scope, path=path[:-1] if path.endswith("/") else path + "/")
            found = _match(routes, twin, "", ())
    return found or NO_MATCH


def _host(scope: Any) -> Optional[bytes]:
    for name, value in scope.get("headers") or ():
        if name == b"host":
            return bytes(value)
    return None


def _routes_by_host(routes: Iterable[Any], depth: int = 0) -> bool:
    """Whether any route (mounted ones too) matches on the Host header (Starlette's ``Host``)."""
    for route in routes:
        if hasattr(route, "host"):
            return True
        inner = getattr(route, "routes", None)
        if inner and depth < 16 and _routes_by_host(inner, depth + 1):
            return True
    return False


def _match(routes: Iterable[Any], scope: dict, prefix: str, mounts: Tuple[str, ...]) -> Optional[RouteMatch]:
    partial: Optional[RouteMatch] = None
    for route in _flat(routes):
        matches = getattr(route, "matches", None)
        if matches is None:
            continue
        kind, child = matches(scope)
        kind = getattr(kind, "value", kind)
        if kind == _FULL or (kind == _PARTIAL and partial is None):
            found = _resolve(route, scope, child, prefix, mounts)
            if kind == _FULL:
                return found
            partial = found
    return partial


def _resolve(route: Any, scope: dict, child: Any, prefix: str, mounts: Tuple[str, ...]) -> Optional[RouteMatch]:
    path_format = getattr(route, "path_format", None) or ""
    inner = getattr(route, "routes", None)
    if inner is None:
        template = prefix + path_format
        return RouteMatch(template, _names(template, getattr(route, "name", None), mounts))
    # A Mount (or Host): its own routes, under its prefix; a mounted app without routes
    # (static files, another ASGI app) is the mount's "<prefix>/{path}".
    here = path_format[: -len(_MOUNT_TAIL)] if path_format.endswith(_MOUNT_TAIL) else ""
    name = getattr(route, "name", None)
    if not inner:
        template = prefix + (path_format or "/{path}")
        return RouteMatch(template, _names(template, name, mounts))
    sub_scope = dict(scope)
    sub_scope.update(child or {})
    return _match(inner, sub_scope, prefix + here, mounts + ((name,) if name else ()))


def _names(template: str, name: Optional[str], mounts: Tuple[str, ...]) -> List[str]:
    names = [template]
    if name:
        names.append(name)
        if mounts:
            names.append(":".join(mounts + (name,)))
    return names


def _flat(routes: Iterable[Any]) -> Iterable[Any]:
    if _with_prefixes is None:
        return routes
    try:
        return list(_with_prefixes(list(routes)))
    except Exception:  # a route list FastAPI cannot read: match what is there
        return routes
