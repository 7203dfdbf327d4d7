"""What an incoming request means for the telemetry of its children (DESIGN.md section 3, items 1 and 3).

The official exporter converts each span and log record in isolation, so a dependency or log
line inside a request carries neither the request's operation name nor its client IP/user.
We remember, per trace, the local server span of this process and let the conversion of its
children read from it. The registry is bounded so a process that never ends requests (or
drops them) cannot grow it without limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Mapping, Optional

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from ai_core.forking import reset_lock_after_fork

NameFromSpan = Callable[[Any], Optional[str]]


def _first(attrs: Mapping[str, Any], *keys: str) -> Optional[str]:
    for key in keys:
        value = attrs.get(key)
        if value:
            return str(value)
    return None


class RequestContext:
    """Telemetry context of one incoming request, shared by everything recorded inside it.

    While the request runs, values are read from the live server span: its route and user
    are often known only once the framework has resolved them. When the span ends they are
    frozen and the span reference dropped.
    """

    __slots__ = ("_span", "_name_from_span", "operation_name", "_client_ip", "_auth_user_id", "_user_id", "ended_at")

    def __init__(
        self,
        live_span: Any = None,
        name_from_span: Optional[NameFromSpan] = None,
        operation_name: Optional[str] = None,
        client_ip: Optional[str] = None,
        auth_user_id: Optional[str] = None,
        user_id: Optional[str] = None,
    ) -> None:
        self._span = live_span
        self._name_from_span = name_from_span
        self.operation_name = operation_name
        self._client_ip = client_ip
        self._auth_user_id = auth_user_id
        self._user_id = user_id
        self.ended_at: Optional[float] = None

    def _attrs(self) -> Mapping[str, Any]:
        span = self._span
        return (span.attributes or {}) if span is not None else {}

    def current_operation_name(self) -> Optional[str]:
        if self._span is not None and self._name_from_span is not None:
            try:
                return self._name_from_span(self._span)
            except Exception:  # a half-built span must never break conversion
                return self.operation_name
        return self.operation_name

    @property
    def client_ip(self) -> Optional[str]:
        if self._span is not None:
            return _first(self._attrs(), "client.address", "http.client_ip", "net.peer.ip") or self._client_ip
        return self._client_ip

    @property
    def auth_user_id(self) -> Optional[str]:
        if self._span is not None:
            return _first(self._attrs(), "enduser.id") or self._auth_user_id
        return self._auth_user_id

    @property
    def user_id(self) -> Optional[str]:
        if self._span is not None:
            return _first(self._attrs(), "enduser.pseudo.id") or self._user_id
        return self._user_id

    def freeze(self) -> None:
        """Copy what the ended span says and let the span go."""
        if self._span is None:
            return
        self.operation_name = self.current_operation_name()
        self._client_ip, self._auth_user_id, self._user_id = self.client_ip, self.auth_user_id, self.user_id
        self._span = None
        self.ended_at = time.monotonic()


RequestLookup = Callable[[int], Optional[RequestContext]]


class RequestContextRegistry:
    """trace_id -> RequestContext, bounded, safe across threads.

    A request's children are queued before the request ends and converted within one or two
    export cycles after it, so a context is kept ``grace_s`` after its request ended, then
    forgotten: memory follows the request rate, not the registry's size cap. (If conversion
    ever lags further behind, children simply get the official tags.)
    """

    def __init__(self, max_entries: int = 20000, grace_s: float = 10.0) -> None:
        self._items: "OrderedDict[int, RequestContext]" = OrderedDict()
        self._max = max_entries
        self._grace = grace_s
        self._lock = threading.Lock()
        reset_lock_after_fork(self)  # put() runs on request threads, which a fork can interrupt

    def put(self, trace_id: int, ctx: RequestContext) -> None:
        with self._lock:
            items = self._items
            items[trace_id] = ctx
            while len(items) > self._max:
                items.popitem(last=False)
            # Oldest first: drop leading entries whose request ended long enough ago.
            horizon = time.monotonic() - self._grace
            while items:
                oldest = next(iter(items.values()))
                if oldest.ended_at is None or oldest.ended_at > horizon:
                    break
                items.popitem(last=False)

    def get(self, trace_id: int) -> Optional[RequestContext]:
        return self._items.get(trace_id)

    __call__ = get

    def __len__(self) -> int:
        return len(self._items)


class RequestContextSpanProcessor(SpanProcessor):
    """Registers each local server span as the request context of its trace."""

    def __init__(self, registry: RequestContextRegistry, name_from_span: NameFromSpan) -> None:
        self._registry = registry
        self._name_from_span = name_from_span

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        if span.kind is not SpanKind.SERVER and span.kind is not SpanKind.CONSUMER:
            return
        parent = span.parent
        if parent is not None and not parent.is_remote:
            return  # a nested server span (e.g. ASGI inside WSGI): the outer one is the request
        ctx = span.get_span_context()
        self._registry.put(ctx.trace_id, RequestContext(span, self._name_from_span))

    def on_end(self, span: ReadableSpan) -> None:
        if span.kind is not SpanKind.SERVER and span.kind is not SpanKind.CONSUMER:
            return
        span_ctx = span.get_span_context()
        ctx = self._registry.get(span_ctx.trace_id)
        live = ctx._span if ctx is not None else None
        # The SDK hands on_end a ReadableSpan copy, so compare ids rather than objects.
        if live is not None and live.get_span_context().span_id == span_ctx.span_id:
            ctx.freeze()
