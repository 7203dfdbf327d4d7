"""What an incoming request means for the telemetry of its children (README, "Deliberate differences" 1 and 3).

The official exporter converts each span and log record in isolation, so a dependency or log
line inside a request carries neither the request's operation name nor its client IP/user.
We remember, for every span started inside a request served by this process, that request's
local server span, and let the conversion of the span (or of a log record written inside it)
read from it. Keyed by span, not by trace: a service that calls itself within one trace
serves two requests in that trace, and each child belongs to its own. The registry is
bounded so a process that never ends requests (or drops them) cannot grow it without limit.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Mapping, Optional

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from ai_core.forking import reset_lock_after_fork
from ai_core.span_attributes import span_attributes
from ai_core.request_attributes import app_role_of, auth_user_id_of, client_ip_of, fill_request_tags, user_id_of

NameFromSpan = Callable[[Any], Optional[str]]


class RequestContext:
    """Telemetry context of one incoming request, shared by everything recorded inside it.

    While the request runs, values are read from the live server span: its route and user
    are often known only once the framework has resolved them. When the span ends they are
    frozen and the span reference dropped.
    """

    __slots__ = ("_span", "_name_from_span", "operation_name", "_client_ip", "_auth_user_id", "_user_id",
                 "_role_name", "ended_at")

    def __init__(
        self,
        live_span: Any = None,
        name_from_span: Optional[NameFromSpan] = None,
        operation_name: Optional[str] = None,
        client_ip: Optional[str] = None,
        auth_user_id: Optional[str] = None,
        user_id: Optional[str] = None,
        role_name: Optional[str] = None,
    ) -> None:
        self._span = live_span
        self._role_name = role_name
        self._name_from_span = name_from_span
        self.operation_name = operation_name
        self._client_ip = client_ip
        self._auth_user_id = auth_user_id
        self._user_id = user_id
        self.ended_at: Optional[float] = None

    def _attrs(self) -> Mapping[str, Any]:
        span = self._span
        return span_attributes(span) if span is not None else {}

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
            return client_ip_of(self._attrs()) or self._client_ip
        return self._client_ip

    @property
    def auth_user_id(self) -> Optional[str]:
        if self._span is not None:
            return auth_user_id_of(self._attrs()) or self._auth_user_id
        return self._auth_user_id

    @property
    def user_id(self) -> Optional[str]:
        if self._span is not None:
            return user_id_of(self._attrs()) or self._user_id
        return self._user_id

    @property
    def role_name(self) -> Optional[str]:
        """The role of the app that served the request, when it is not the process's own."""
        if self._span is not None:
            return app_role_of(self._attrs()) or self._role_name
        return self._role_name

    def fill_tags(self, tags: Dict[str, Any], replace_name: bool) -> None:
        """Put this request's operation name, client IP and user on an item's tags."""
        if self._span is None:  # ended (as it is for nearly every exported child): the frozen values
            fill_request_tags(
                tags, self.operation_name, self._client_ip, self._auth_user_id, self._user_id, replace_name,
                self._role_name,
            )
            return
        fill_request_tags(
            tags, self.current_operation_name(), self.client_ip, self.auth_user_id, self.user_id, replace_name,
            self.role_name,
        )

    def freeze(self) -> None:
        """Copy what the ended span says and let the span go."""
        if self._span is None:
            return
        self.operation_name = self.current_operation_name()
        attrs = self._attrs()  # read once: this runs on the request thread, at every request's end
        self._client_ip = client_ip_of(attrs) or self._client_ip
        self._auth_user_id = auth_user_id_of(attrs) or self._auth_user_id
        self._user_id = user_id_of(attrs) or self._user_id
        self._role_name = app_role_of(attrs) or self._role_name
        self._span = None
        self.ended_at = time.monotonic()


RequestLookup = Callable[[int], Optional[RequestContext]]


class RequestContextRegistry:
    """span_id -> RequestContext of the request the span belongs to, bounded, thread-safe.

    A request's children are queued before the request ends and converted within one or two
    export cycles after it, so a context is kept ``grace_s`` after its request ended, then
    forgotten: memory follows the request rate, not the registry's size cap. (If conversion
    ever lags further behind, children simply get the official tags.)
    """

    def __init__(self, max_entries: int = 50000, grace_s: float = 10.0) -> None:
        self._items: "OrderedDict[int, RequestContext]" = OrderedDict()
        self._max = max_entries
        self._grace = grace_s
        self._lock = threading.Lock()
        reset_lock_after_fork(self)  # put() runs on request threads, which a fork can interrupt

    def put(self, span_id: int, ctx: RequestContext) -> None:
        with self._lock:
            items = self._items
            items[span_id] = ctx
            while len(items) > self._max:
                items.popitem(last=False)
            # Oldest first: drop leading entries whose request ended long enough ago.
            horizon = time.monotonic() - self._grace
            while items:
                oldest = next(iter(items.values()))
                if oldest.ended_at is None or oldest.ended_at > horizon:
                    break
                items.popitem(last=False)

    def get(self, span_id: int) -> Optional[RequestContext]:
        return self._items.get(span_id)

    __call__ = get

    def __len__(self) -> int:
        return len(self._items)


class RequestContextSpanProcessor(SpanProcessor):
    """Registers each local server span as a request, and every span started under it as
    belonging to that request."""

    def __init__(self, registry: RequestContextRegistry, name_from_span: NameFromSpan) -> None:
        self._registry = registry
        self._name_from_span = name_from_span

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        parent = span.parent
        span_id = span.get_span_context().span_id
        if parent is not None and not parent.is_remote:
            # Inside a request of this process (or not in one at all): follow the parent.
            # A nested server span (e.g. ASGI inside WSGI) belongs to the outer request too.
            ctx = self._registry.get(parent.span_id)
            if ctx is not None:
                self._registry.put(span_id, ctx)
            elif span.kind is SpanKind.SERVER or span.kind is SpanKind.CONSUMER:
                self._registry.put(span_id, RequestContext(span, self._name_from_span))
            return
        if span.kind is SpanKind.SERVER or span.kind is SpanKind.CONSUMER:
            # A request that arrived here (no parent, or one in another process).
            self._registry.put(span_id, RequestContext(span, self._name_from_span))

    def on_end(self, span: ReadableSpan) -> None:
        if span.kind is not SpanKind.SERVER and span.kind is not SpanKind.CONSUMER:
            return
        span_id = span.get_span_context().span_id
        ctx = self._registry.get(span_id)
        live = ctx._span if ctx is not None else None
        # The SDK hands on_end a ReadableSpan copy, so compare ids rather than objects.
        if live is not None and live.get_span_context().span_id == span_id:
            ctx.freeze()
