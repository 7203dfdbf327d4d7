"""Per-second Live Metrics: the items recorded since the last post, turned into the eleven
metrics, the portal's derived metrics and the documents its streams ask for.

While someone watches, the hooks (ai_core.live_metrics.hooks) append each ended span and each
log record to a bounded buffer (an append; nothing else on the request thread). Once a second
the Live Metrics thread converts them to envelopes with the exporters' own functions, so every
value matches what is stored, and counts them:

* ``Requests/Sec`` counts every request, failed ones included; ``Requests Failed/Sec`` the
  failed ones; ``Request Duration`` is their mean duration in milliseconds (the same for
  dependencies);
* ``Exceptions/Sec`` counts Exception items: each failure once, as it is stored once;
* under sampling each item weighs ``100 / sampleRate`` (the envelope's own rate), so the rates
  are the app's true rates, not the sampled fraction.

A full buffer drops new items and counts them (reported once per interval in our diagnostics).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from ai_core.diagnostics import DROPS
from ai_core.envelopes.logs import log_to_envelope
from ai_core.envelopes.spans import span_to_envelopes
from ai_core.live_metrics.documents import LiveItem, live_item
from ai_core.live_metrics.filters import LiveConfiguration

logger = logging.getLogger("ai_core")

REQUESTS = "\\ApplicationInsights\\Requests/Sec"
REQUESTS_FAILED = "\\ApplicationInsights\\Requests Failed/Sec"
REQUEST_DURATION = "\\ApplicationInsights\\Request Duration"
DEPENDENCIES = "\\ApplicationInsights\\Dependency Calls/Sec"
DEPENDENCIES_FAILED = "\\ApplicationInsights\\Dependency Calls Failed/Sec"
DEPENDENCY_DURATION = "\\ApplicationInsights\\Dependency Call Duration"
EXCEPTIONS = "\\ApplicationInsights\\Exceptions/Sec"

MAX_BUFFERED_ITEMS = 20_000  # per second and process: far above what one worker serves
MAX_DOCUMENTS = 200  # per post, over all streams

ToEnvelopes = Callable[[List[Any]], List[Dict[str, Any]]]


class _Sums:
    __slots__ = ("count", "failed", "duration")

    def __init__(self) -> None:
        self.count = self.failed = self.duration = 0.0

    def add(self, item: LiveItem) -> None:
        self.count += item.weight
        if not item.success:
            self.failed += item.weight
        self.duration += item.weight * item.duration_ms

    def mean_duration(self) -> float:
        return self.duration / self.count if self.count else 0.0


def _point(name: str, value: float, weight: int = 1) -> Dict[str, Any]:
    return {"Name": name, "Value": value, "Weight": weight}


class LiveCollector:
    """The bounded buffer, and the once-a-second summary of what it held."""

    def __init__(
        self,
        ikey: str,
        clock: Callable[[], float],
        request_lookup: Any = None,
        trace_sample_rate: Optional[float] = None,
        max_items: int = MAX_BUFFERED_ITEMS,
        max_documents: int = MAX_DOCUMENTS,
        span_envelopes: Optional[ToEnvelopes] = None,
        log_envelopes: Optional[ToEnvelopes] = None,
    ) -> None:
        # configure() passes the exporters' own conversions (role tags and telemetry processors
        # applied): Live Metrics then counts exactly what is stored.
        self._span_envelopes = span_envelopes or self._spans_to_envelopes
        self._log_envelopes = log_envelopes or self._logs_to_envelopes
        self._ikey = ikey
        self._clock = clock
        self._lookup = request_lookup
        self._log_rate = trace_sample_rate
        self._max = max_items
        self._max_documents = max_documents
        self._items: Deque[Any] = deque()
        self.dropped = 0  # items the full buffer refused, not yet reported
        self._since = clock()

    def add(self, item: Any) -> None:
        """A span or log record (request thread): one bounded append, nothing else."""
        if len(self._items) < self._max:
            self._items.append(item)
        else:
            self.dropped += 1

    def restart(self) -> None:
        """Forget what was buffered and measure rates from now (posting starts or stops)."""
        self._items.clear()
        self._since = self._clock()

    def _drain(self) -> List[Any]:
        items, pop = [], self._items.popleft
        for _ in range(len(self._items)):
            try:
                items.append(pop())
            except IndexError:  # pragma: no cover - only this thread pops
                break
        return items

    def _spans_to_envelopes(self, spans: List[Any]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for span in spans:
            try:
                out.extend(span_to_envelopes(span, self._ikey, self._lookup))
            except Exception:
                DROPS.add("Live Metrics items that could not be converted")
        return out

    def _logs_to_envelopes(self, records: List[Any]) -> List[Dict[str, Any]]:
        out: List[Dict[str, Any]] = []
        for record in records:
            try:
                envelope = log_to_envelope(record, self._ikey, self._lookup, self._log_rate)
            except Exception:
                DROPS.add("Live Metrics items that could not be converted")
                continue
            if envelope is not None:
                out.append(envelope)
        return out

    def _envelopes(self, raw: List[Any]) -> List[Dict[str, Any]]:
        spans = [item for item in raw if not hasattr(item, "log_record")]
        records = [item for item in raw if hasattr(item, "log_record")] if len(spans) < len(raw) else []
        out: List[Dict[str, Any]] = []
        for convert, items in ((self._span_envelopes, spans), (self._log_envelopes, records)):
            if not items:
                continue
            try:
                out.extend(convert(items))
            except Exception:
                DROPS.add("Live Metrics items that could not be converted", len(items))
                logger.debug("Live Metrics: converting items failed", exc_info=True)
        return out

    def collect(self, config: LiveConfiguration) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
        """(metrics, documents) for everything recorded since the last call."""
        now = self._clock()
        elapsed = max(now - self._since, 1e-3)
        self._since = now
        if self.dropped:
            dropped, self.dropped = self.dropped, 0
            DROPS.add("Live Metrics items (the per-second buffer was full)", dropped)
        requests, dependencies = _Sums(), _Sums()
        exceptions = 0.0
        documents: List[Dict[str, Any]] = []
        documents_dropped = 0
        for stream in config.streams:
            stream.refill(elapsed)
        aggregates = _Aggregates(config)
        for envelope in self._envelopes(self._drain()):
            item = live_item(envelope)
            if item is None:
                continue
            kind = item.kind
            if kind == "Request":
                requests.add(item)
            elif kind == "Dependency":
                dependencies.add(item)
            elif kind == "Exception":
                exceptions += item.weight
            if config.metrics:
                aggregates.add(item)
            if config.streams:
                ids = [s.id for s in config.streams if s.wants(item) and s.take()]
                if ids:
                    if len(documents) < self._max_documents:
                        documents.append(item.document(ids))
                    else:
                        documents_dropped += 1
        if documents_dropped:
            DROPS.add("Live Metrics documents (more than %d in one second)" % self._max_documents, documents_dropped)
        metrics = [
            _point(REQUESTS, requests.count / elapsed),
            _point(REQUESTS_FAILED, requests.failed / elapsed),
            _point(REQUEST_DURATION, requests.mean_duration(), int(round(requests.count))),
            _point(DEPENDENCIES, dependencies.count / elapsed),
            _point(DEPENDENCIES_FAILED, dependencies.failed / elapsed),
            _point(DEPENDENCY_DURATION, dependencies.mean_duration(), int(round(dependencies.count))),
            _point(EXCEPTIONS, exceptions / elapsed),
        ]
        metrics.extend(aggregates.points())
        return metrics, documents


class _Aggregates:
    """The derived metrics of one second: Sum and Avg weighted (true values under sampling),
    Min and Max over the values seen."""

    def __init__(self, config: LiveConfiguration) -> None:
        self._metrics = config.metrics
        self._state: Dict[str, List[float]] = {m.id: [0.0, 0.0, 0.0] for m in config.metrics}  # sum, weight, extreme

    def add(self, item: LiveItem) -> None:
        for metric in self._metrics:
            if not metric.matches(item):
                continue
            value = metric.project(item)
            if value is None:
                continue
            state = self._state[metric.id]
            if metric.aggregation == "Min":
                state[2] = value if state[1] == 0 else min(state[2], value)
            elif metric.aggregation == "Max":
                state[2] = value if state[1] == 0 else max(state[2], value)
            state[0] += value * item.weight
            state[1] += item.weight

    def points(self) -> List[Dict[str, Any]]:
        out = []
        for metric in self._metrics:
            total, weight, extreme = self._state[metric.id]
            if metric.aggregation == "Sum":
                value = total
            elif metric.aggregation == "Avg":
                value = total / weight if weight else 0.0
            else:
                value = extreme
            out.append(_point(metric.id, value))
        return out
