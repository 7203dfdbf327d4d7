"""The JSON control and query API under ``/api/`` (routes and shapes: package docstring).

``route()`` maps a method, path, query and body to ``(status, JSON object)``; it knows nothing
of sockets, so the HTTP server stays a thin adapter.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import unquote

from ai_core.emulator import aggregates, ingest, live_filter
from ai_core.emulator.app import EmulatorApp
from ai_core.emulator.appmap import build_map
from ai_core.emulator.summary import normalize_time

Query = Dict[str, List[str]]
Result = Tuple[int, Any]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _one(query: Query, key: str) -> Optional[str]:
    values = query.get(key)
    return values[-1] if values else None


def _int(query: Query, key: str, default: Optional[int]) -> Optional[int]:
    value = _one(query, key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, "%s: not an integer (%r)" % (key, value)) from None


def _time(query: Query, key: str) -> Optional[str]:
    value = _one(query, key)
    if not value:
        return None
    normalized = normalize_time(value)
    if normalized is None:
        raise ApiError(400, "%s: not an ISO 8601 date-time (%r)" % (key, value))
    return normalized


def _bool(query: Query, key: str) -> Optional[bool]:
    value = _one(query, key)
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ApiError(400, "%s: must be true or false (%r)" % (key, value))


def _json_body(body: bytes) -> Any:
    try:
        return ingest.loads_unicode(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "body is not valid JSON: %s" % exc) from None


def list_items(app: EmulatorApp, query: Query) -> Result:
    limit = _int(query, "limit", 100)
    items = app.store.items(
        type=_one(query, "type"), role=_one(query, "role"), name=_one(query, "name"),
        target=_one(query, "target"),
        operation_id=_one(query, "operation_id"), since=_time(query, "since"),
        until=_time(query, "until"), success=_bool(query, "success"), q=_one(query, "q"),
        after_id=_int(query, "after_id", None), limit=limit, offset=_int(query, "offset", 0),
    )
    return 200, {"items": items, "count": len(items), "limit": limit}


def get_item(app: EmulatorApp, item_id: str) -> Result:
    try:
        item = app.store.item(int(item_id))
    except ValueError:
        item = None
    if item is None:
        raise ApiError(404, "no item with id %r" % item_id)
    return 200, item


def get_operation(app: EmulatorApp, operation_id: str) -> Result:
    items = app.store.operation(operation_id)
    return 200, {"operation_id": operation_id, "items": items, "count": len(items)}


def _buckets(query: Query) -> int:
    buckets = _int(query, "buckets", 60)
    if buckets is None or not 1 <= buckets <= aggregates.MAX_BUCKETS:
        raise ApiError(400, "buckets: must be 1 to %d (%r)" % (aggregates.MAX_BUCKETS, buckets))
    return buckets


def overview(app: EmulatorApp, query: Query, aggregate: Callable[..., Dict[str, Any]]) -> Result:
    """``/api/performance`` and ``/api/failures``: requests or dependencies, per operation and
    over time."""
    type = _one(query, "type") or "request"
    if type not in ("request", "dependency"):
        raise ApiError(400, "type: must be request or dependency (%r)" % type)
    return 200, aggregate(app.store, type=type, role=_one(query, "role"), name=_one(query, "name"),
                          target=_one(query, "target"), since=_time(query, "since"),
                          until=_time(query, "until"), buckets=_buckets(query))


def metrics(app: EmulatorApp, query: Query) -> Result:
    """``/api/metrics``: the metric names, or with ``name`` one metric over time."""
    name = _one(query, "name")
    if not name:
        return 200, aggregates.metric_names(app.store, bool(_bool(query, "include_resource")))
    return 200, aggregates.metric_series(
        app.store, name, split=_one(query, "split") or None, role=_one(query, "role"),
        since=_time(query, "since"), until=_time(query, "until"), buckets=_buckets(query))


def stats(app: EmulatorApp) -> Result:
    return 200, {"received": app.stats.snapshot(), "stored": app.store.counts(),
                 "faults_pending": len(app.faults.pending())}


def add_faults(app: EmulatorApp, body: bytes) -> Result:
    try:
        added = app.faults.add(_json_body(body))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return 201, {"added": [f.to_json() for f in added], "pending": app.faults.pending()}


# The Live tab's text settings: an example for the error message, and how each is applied.
_LIVE_TEXT_ACTIONS: Dict[str, Tuple[str, Callable[[Any, str], Any]]] = {
    "filter": ("requests where Success = false", lambda live, text: live.set_filter(text)),
    "charts": ("avg Duration of requests", lambda live, text: live.set_charts(text)),
}


def live_action(app: EmulatorApp, action: str, body: bytes) -> Result:
    """``POST /api/live/subscribe`` (the Live tab is open: apps post for the next seconds),
    ``POST /api/live/filter`` (``{"filter": "<text>"}``) and ``POST /api/live/charts``
    (``{"charts": "<text>"}``); syntax in ``live_filter``."""
    if action == "subscribe":
        return 200, app.live.watch()
    if action in _LIVE_TEXT_ACTIONS:
        example, apply = _LIVE_TEXT_ACTIONS[action]
        request = _json_body(body)
        text = request.get(action) if isinstance(request, dict) else None
        if not isinstance(text, str):
            raise ApiError(400, 'body must be {"%s": "<text>"}, e.g. {"%s": "%s"}' % (action, action, example))
        try:
            return 200, apply(app.live, text)
        except live_filter.FilterError as exc:
            raise ApiError(400, "%s: %s" % (action, exc)) from None
    raise ApiError(404, "no API route /api/live/%s (subscribe, filter, charts)" % action)


def live_snapshot(app: EmulatorApp, query: Query) -> Result:
    return 200, app.live.snapshot(after_seq=_int(query, "after_seq", 0) or 0, role=_one(query, "role") or None)


def clear_items(app: EmulatorApp) -> Result:
    app.store.clear()
    app.stats.reset()
    return 200, {"cleared": True}


def route(app: EmulatorApp, method: str, path: str, query: Query, body: bytes) -> Result:
    """Dispatch one ``/api/...`` request; unknown routes give 404, wrong methods 405."""
    parts = [unquote(p) for p in path.strip("/").split("/")][1:]  # drop the leading "api"
    key = parts[0] if parts else ""
    handlers: Dict[Tuple[str, str, int], Callable[[], Result]] = {
        ("GET", "items", 1): lambda: list_items(app, query),
        ("DELETE", "items", 1): lambda: clear_items(app),
        ("GET", "items", 2): lambda: get_item(app, parts[1]),
        ("GET", "operations", 2): lambda: get_operation(app, parts[1]),
        ("GET", "roles", 1): lambda: (200, {"roles": app.store.roles()}),
        ("GET", "map", 1): lambda: (200, build_map(app.store)),
        ("GET", "performance", 1): lambda: overview(app, query, aggregates.performance),
        ("GET", "failures", 1): lambda: overview(app, query, aggregates.failures),
        ("GET", "metrics", 1): lambda: metrics(app, query),
        ("GET", "rejected", 1): lambda: (200, _rejected(app, query)),
        ("GET", "stats", 1): lambda: stats(app),
        ("GET", "faults", 1): lambda: (200, {"pending": app.faults.pending()}),
        ("POST", "faults", 1): lambda: add_faults(app, body),
        ("DELETE", "faults", 1): lambda: (200, {"cleared": app.faults.clear()}),
        ("GET", "live", 1): lambda: live_snapshot(app, query),
        ("POST", "live", 2): lambda: live_action(app, parts[1], body),
        ("DELETE", "live", 1): lambda: (app.live.clear(), (200, {"cleared": True}))[1],
    }
    handler = handlers.get((method, key, len(parts)))
    if handler is None:
        if any(k[1] == key and k[2] == len(parts) for k in handlers):
            raise ApiError(405, "method %s not allowed on %s" % (method, path))
        raise ApiError(404, "no API route %s" % path)
    return handler()


def _rejected(app: EmulatorApp, query: Query) -> Dict[str, Any]:
    limit = _int(query, "limit", 100)
    items = app.store.rejected(limit=limit, offset=_int(query, "offset", 0),
                               after_id=_int(query, "after_id", None))
    return {"items": items, "count": len(items), "limit": limit}
