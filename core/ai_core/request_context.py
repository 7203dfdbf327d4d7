"""What an incoming request means for the telemetry of its children (README, "Deliberate differences" 1 and 3).

The official exporter converts each span and log record in isolation, so a dependency or log
line inside a request carries neither the request's operation name nor its client IP/user.
We remember, for every span started inside a request served by this process, that request's
local server span, and let the conversion of the span (or of a log record written inside it)
read from it. Keyed by span, not by trace: a service that calls itself within one trace
serves two requests in that trace, and each child belongs to its own. The registry is
bounded so a process that never ends requests (or drops them) cannot grow it without limit.

This runs on the request thread for every span (benchmarks/README.md, "Issue 20, second
session"), so the registry is plain dicts written without a lock, a child's entry is the
request's span id (an int), and an ended request is a tuple of strings: nothing kept for the
seconds after a request is an object the garbage collector has to visit again and again.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

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

    @property
    def live(self) -> bool:
        """Whether the values are read from a running request's span (and may still change)."""
        return self._span is not None

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

    def freeze(self, now: Optional[float] = None) -> None:
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
        self.ended_at = time.monotonic() if now is None else now

    def frozen(self) -> "Frozen":
        """The values of an ended request as one tuple (see :data:`Frozen`)."""
        return (self.operation_name, self._client_ip, self._auth_user_id, self._user_id, self._role_name,
                self.ended_at)

    @classmethod
    def from_frozen(cls, values: "Frozen") -> "RequestContext":
        ctx = cls(None, None, values[0], values[1], values[2], values[3], values[4])
        ctx.ended_at = values[5]
        return ctx


Frozen = Tuple[Optional[str], Optional[str], Optional[str], Optional[str], Optional[str], Optional[float]]
"""An ended request: (operation name, client IP, authenticated user, user, app role, ended at).
A tuple of strings is not tracked by the garbage collector once a collection has seen it."""

RequestLookup = Callable[[int], Optional[RequestContext]]


class RequestContextRegistry:
    """span_id -> RequestContext of the request the span belongs to, bounded, thread-safe.

    A request's children are queued before the request ends and converted within one or two
    export cycles after it, so a context is kept ``grace_s`` after its request ended, then
    forgotten: memory follows the request rate, not the registry's size cap. (If conversion
    ever lags further behind, children simply get the official tags.)

    Entries live in two generations of plain dicts: ``put`` writes into the young one, and
    every ``grace_s / 2`` the young generation becomes the old one while, of the old one, only
    what is still needed moves to the new young generation: running requests, requests that
    ended less than ``grace_s`` ago, and the entries pointing at those. A request is thus
    forgotten between ``grace_s`` and ``grace_s`` plus two periods after it ended, and the
    request thread pays a dict store per span (dict operations are atomic under the GIL; only
    the rotation takes a lock, and never waits for it). When the young generation reaches
    half of ``max_entries`` it is rotated at once and the old one dropped whole, so requests
    that never end cannot grow the registry past ``max_entries``.

    Values: a :class:`RequestContext` (a running request, or one ``put`` by a caller), a
    :data:`Frozen` tuple (a request the span processor saw end), or the span id (an int) of
    the entry a span's request is registered under.
    """

    def __init__(self, max_entries: int = 50000, grace_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._young: Dict[int, Any] = {}
        self._old: Dict[int, Any] = {}
        self._half = max(max_entries // 2, 1)
        self._grace = grace_s
        self._period = grace_s / 2
        self._clock = clock
        self._rotate_at = clock() + self._period
        self._view: Tuple[Any, Optional[RequestContext]] = (None, None)  # last frozen tuple looked up, its context
        self._lock = threading.Lock()  # rotation only
        reset_lock_after_fork(self)  # a fork while another thread rotated must not stop rotations

    # -- request threads ------------------------------------------------------------------

    def put(self, span_id: int, ctx: Any) -> None:
        """Register ``span_id`` under ``ctx``: a RequestContext, or the span id it belongs to."""
        young = self._young
        young[span_id] = ctx
        if len(young) >= self._half or self._clock() >= self._rotate_at:
            self._rotate()

    def owner(self, span_id: int) -> Optional[int]:
        """The span id whose entry holds the request ``span_id`` belongs to, or None."""
        value = self._young.get(span_id)
        if value is None:
            value = self._old.get(span_id)
            if value is None:
                return None
        return value if value.__class__ is int else span_id

    def end(self, span_id: int, live_span_id: int, now: Optional[float] = None) -> None:
        """The request registered under ``span_id`` ended: keep its values, drop its span."""
        young = self._young
        ctx = young.get(span_id)
        if ctx is None:
            ctx = self._old.get(span_id)
        if ctx.__class__ is not RequestContext:
            return
        live = ctx._span
        # The SDK hands on_end a ReadableSpan copy, so compare ids rather than objects.
        if live is None or live.get_span_context().span_id != live_span_id:
            return
        ctx.freeze(now if now is not None else self._clock())
        young[span_id] = ctx.frozen()  # the young generation: it stays at least one more period

    # -- the export thread (and request threads' children) --------------------------------

    def get(self, span_id: int) -> Optional[RequestContext]:
        value = self._young.get(span_id)
        if value is None:
            value = self._old.get(span_id)
            if value is None:
                return None
        if value.__class__ is int:
            value = self._young.get(value) or self._old.get(value)
            if value is None:
                return None
        if value.__class__ is tuple:
            seen, ctx = self._view  # one tuple read: consistent across threads
            if seen is not value:
                ctx = RequestContext.from_frozen(value)
                self._view = (value, ctx)
            return ctx
        return value

    __call__ = get

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    # -- rotation ------------------------------------------------------------------------

    def _rotate(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is rotating
        try:
            now = self._clock()
            young, old = self._young, self._old
            if len(young) >= self._half:
                carried: Dict[int, Any] = {}  # over the cap: the old generation goes whole
            else:
                carried = self._still_needed(old, young, now - self._grace)
            self._old = young
            self._young = carried
            self._rotate_at = now + self._period
        finally:
            self._lock.release()

    @staticmethod
    def _still_needed(old: Dict[int, Any], young: Dict[int, Any], horizon: float) -> Dict[int, Any]:
        items = list(old.items())  # one C-level copy: no Python code runs while it is taken
        carried: Dict[int, Any] = {}
        for span_id, value in items:
            cls = value.__class__
            if cls is tuple:
                ended = value[5]
            elif cls is int:
                continue
            else:
                ended = value.ended_at
            if ended is None or ended > horizon:
                carried[span_id] = value
        for span_id, value in items:  # a child stays while its request's entry does
            if value.__class__ is int and (value in carried or value in young):
                carried[span_id] = value
        return carried


class RequestContextSpanProcessor(SpanProcessor):
    """Registers each local server span as a request, and every span started under it as
    belonging to that request."""

    def __init__(self, registry: RequestContextRegistry, name_from_span: NameFromSpan) -> None:
        self._registry = registry
        self._name_from_span = name_from_span

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        parent = span.parent
        if parent is not None and not parent.is_remote:
            # Inside a request of this process (or not in one at all): follow the parent.
            # A nested server span (e.g. ASGI inside WSGI) belongs to the outer request too.
            owner = self._registry.owner(parent.span_id)
            if owner is not None:
                self._registry.put(span.get_span_context().span_id, owner)
                return
        kind = span.kind
        if kind is SpanKind.SERVER or kind is SpanKind.CONSUMER:
            # A request that arrived here (no parent, or one in another process).
            self._registry.put(span.get_span_context().span_id, RequestContext(span, self._name_from_span))

    def on_end(self, span: ReadableSpan) -> None:
        kind = span.kind
        if kind is SpanKind.SERVER or kind is SpanKind.CONSUMER:
            span_id = span.get_span_context().span_id
            self._registry.end(span_id, span_id)
