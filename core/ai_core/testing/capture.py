"""``capture_telemetry()``: the items recorded inside a ``with`` block, as envelopes, never sent.

How it works (README, "Testing your telemetry"): while the block runs, the pipeline's hand-off
(:mod:`ai_core.delivery.handoff`) gives each span that ends and each log record to the capture
instead of the export queue. Nothing is converted on the app's thread: the capture keeps the
SDK's items and converts them, with our exporter's own conversion and the app's
``telemetry_processors``, when the test first reads them (the export thread too converts a
request's items after the request, when its route and user are known).

Which items are the block's: spans that *started* inside it (a request that began earlier is
not, even if it ends inside), and log records written inside it. A span that started inside and
ends after the block still belongs to it: it is added to the capture, never queued. Metrics
(capture-only pipelines) are collected when the block starts (what was measured before is
dropped), when the capture is read during the block, and when the block ends.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Callable, Dict, List, Optional, Tuple, Type

from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import ReadableSpan, Span

from ai_core.delivery import handoff
from ai_core.delivery.handoff import Diversion, Envelope, ToEnvelopes, collect_capturable_metrics
from ai_core.testing.items import TelemetryItem

REQUEST = "RequestData"
DEPENDENCY = "RemoteDependencyData"
EXCEPTION = "ExceptionData"
EVENT = "EventData"
MESSAGE = "MessageData"
METRIC = "MetricData"


class CapturedTelemetry(Diversion):
    """What one ``capture_telemetry()`` block recorded: lists of :class:`TelemetryItem` envelopes.

    Every list is in the order the items ended (a request's dependencies before the request).
    A request whose response body is still open when the test reads is listed as it stands,
    ended at the moment of reading; once it really ends, the real item replaces it. Flask's test
    client leaves a body open until the response object is freed: a response the test keeps, and
    an error answer (a 404, a 500), which sits in a reference cycle through its exception's
    traceback until the garbage collector runs, or until the test ends when pytest's log capture
    holds the 500's log record.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start_ns = 0
        self._end_ns: Optional[int] = None
        self._active = False
        self._discarding = False
        self._pending: List[Callable[[], List[Envelope]]] = []  # SDK items' conversions, not run yet
        self._open: Dict[int, Tuple[Span, ToEnvelopes]] = {}  # started inside, not ended yet
        self._items: List[TelemetryItem] = []

    # -- the block -----------------------------------------------------------------------------
    def __enter__(self) -> "CapturedTelemetry":
        if self._active or self._end_ns is not None:
            raise RuntimeError("a CapturedTelemetry is used for one with-block only; call capture_telemetry() again")
        other = handoff.current_diversion()
        if isinstance(other, CapturedTelemetry) and other._active:
            raise RuntimeError("capture_telemetry() is already active: one capture at a time (no nesting)")
        self._start_ns = time.time_ns()
        self._active = True
        handoff.divert(self)
        self._discarding = True  # metric deltas measured before the block
        try:
            collect_capturable_metrics()
        finally:
            self._discarding = False
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        # Still the diversion: spans that started inside and end later are added here, not queued.
        collect_capturable_metrics()
        self._end_ns = time.time_ns()
        self._active = False

    # -- called by the hand-off, on the app's threads -----------------------------------------
    def _owns(self, span: Any) -> bool:
        start = span.start_time or 0
        return start >= self._start_ns and (self._end_ns is None or start <= self._end_ns)

    def span_started(self, span: Span, to_envelopes: ToEnvelopes) -> None:
        if self._active:
            with self._lock:
                self._open[span.context.span_id] = (span, to_envelopes)

    def span_ended(self, span: ReadableSpan, to_envelopes: ToEnvelopes) -> bool:
        if not self._owns(span):
            return False
        with self._lock:
            self._open.pop(span.context.span_id, None)
            self._pending.append(lambda: to_envelopes([span]))
        return True

    def log_emitted(self, log_record: Any, to_envelopes: ToEnvelopes) -> bool:
        if not self._active:
            return False
        with self._lock:
            self._pending.append(lambda: to_envelopes([log_record]))
        return True

    def metrics_collected(
        self, metrics_data: MetricsData, to_envelopes: Callable[[MetricsData], List[Envelope]]
    ) -> bool:
        if not self._active:
            return False
        if not self._discarding:
            with self._lock:
                self._pending.append(lambda: to_envelopes(metrics_data))
        return True

    # -- reading -------------------------------------------------------------------------------
    @property
    def all(self) -> List[TelemetryItem]:
        """Every item, of every type."""
        if self._active:
            collect_capturable_metrics()
        with self._lock:
            pending, self._pending = self._pending, []
            still_open = list(self._open.values())
        for convert in pending:
            self._items.extend(TelemetryItem(env) for env in convert())
        items = list(self._items)
        for span, to_envelopes in still_open:
            items.extend(TelemetryItem(env) for env in to_envelopes([_ended_now(span)]))
        if not items:
            _check_pipeline()
        return items

    def of_type(self, base_type: str) -> List[TelemetryItem]:
        """The items whose ``data.baseType`` is ``base_type`` (``"RequestData"``...)."""
        return [item for item in self.all if item.base_type == base_type]

    @property
    def requests(self) -> List[TelemetryItem]:
        """Incoming requests (``RequestData``): name, responseCode, success, url, duration."""
        return self.of_type(REQUEST)

    @property
    def dependencies(self) -> List[TelemetryItem]:
        """Outgoing calls (``RemoteDependencyData``): SQL, HTTP, Redis... with the request's operation."""
        return self.of_type(DEPENDENCY)

    @property
    def exceptions(self) -> List[TelemetryItem]:
        """Exceptions (``ExceptionData``): uncaught ones and ``logger.exception`` records."""
        return self.of_type(EXCEPTION)

    @property
    def events(self) -> List[TelemetryItem]:
        """Custom events (``EventData``) from ``ai_core.track_event``."""
        return self.of_type(EVENT)

    @property
    def traces(self) -> List[TelemetryItem]:
        """Log lines (``MessageData``; the portal's ``traces`` table)."""
        return self.of_type(MESSAGE)

    logs = traces

    @property
    def metrics(self) -> List[TelemetryItem]:
        """Metric points (``MetricData``), from capture-only pipelines: your own instruments and
        the standard request/dependency metrics, as deltas per collection (see the module doc)."""
        return self.of_type(METRIC)

    def __repr__(self) -> str:
        state = "active" if self._active else "done"
        with self._lock:
            count = len(self._items) + len(self._pending) + len(self._open)
        return "<CapturedTelemetry %s: %d items>" % (state, count)


def _ended_now(span: Span) -> ReadableSpan:
    """A copy of a span that has not ended, as if it ended now (it keeps every attribute)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=time.time_ns(),
        instrumentation_scope=span.instrumentation_scope,
    )


def _check_pipeline() -> None:
    """An empty capture because nothing can be recorded must not pass a test that expects none."""
    from ai_core.configure import current

    telemetry = current()
    if telemetry is not None and telemetry.enabled:
        return
    if telemetry is None:
        problem = "ai_core.configure() has not run: the app is not set up with django_ai, flask_ai or fastapi_ai yet"
    elif not telemetry.options.enabled:
        problem = "telemetry is switched off (the enabled option is False)"
    else:
        problem = (
            "telemetry is off: the app was configured without a connection string before capture-only "
            "pipelines were requested (under pytest the ai_core plugin requests them at start-up; "
            "elsewhere call ai_core.testing.capture_only() before the app is set up, e.g. in test settings)"
        )
    raise RuntimeError("capture_telemetry() cannot see anything: %s." % problem)
