"""Request durations recorded off the request thread, into the stock instrumentations' histograms.

Every HTTP server instrumentation records each request's duration into an SDK histogram
(``http.server.duration`` in ms, ``http.server.request.duration`` in s), which Application
Insights sends as the standard metric ``requests/duration``. The record runs on the request
thread and costs 9-17 us (a measurement object, the view's attribute filter, the
aggregation's lock): for a hello-world request, as much as the rest of our request hooks.

A :class:`QueuedHistogram` stands in for such a histogram. Its ``record`` reduces the
attributes to the ones ``requests/duration`` keeps (what ``standard_metric_views`` would keep
of them anyway) and queues ``(histogram, value, attributes)``; the queue is recorded into the
real histogram right before each metric collection, on the collecting thread (the export
worker): the callback of an observable instrument that itself observes nothing runs before
every collection. Same instrument, values and attributes, so each collection holds every
request that ended before it, with the numbers the stock instrumentation would have sent.

Used for the contrib WSGI and ASGI middlewares (Flask, FastAPI) through
``ai_core.autocollected_metrics``, and by ``django_ai``'s own request middleware through the
same provider; the HTTP client instrumentations' durations (``dependencies/duration``, one per
outgoing call) are queued the same way, with all their attributes. Requests an adapter excludes never reach a record, so they are not counted.
The queue is bounded: when no collection drains it (metrics export switched off), a request
records directly. With exemplars asked for (``OTEL_METRICS_EXEMPLAR_FILTER``) the histograms
record directly too: an exemplar needs the request's context at the time of the record.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

__all__ = ["DurationQueue", "QueuedHistogram", "duration_queue"]

GAUGE_NAME = "ai_core.queued_request_durations"
_EMPTY: Dict[str, Any] = {}


class DurationQueue:
    """The durations of one meter provider's requests, waiting for its next collection.

    Kept as one list of plain numbers per (histogram, shared attributes): numbers are not
    tracked by the garbage collector, so a queued request adds nothing the collections of the
    request thread's young generation must visit or promote (a tuple per request did).
    """

    MAX_QUEUED = 50_000  # values (8-byte floats in lists): well under 1 MB

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (id(histogram), id(attributes)) -> (histogram, attributes, values); the entry holds
        # both objects, so neither id can be reused while the entry is waiting.
        self._pending: Dict[Tuple[int, int], Tuple[Any, Mapping[str, Any], List[Any]]] = {}
        self._count = 0
        self.recorded_one_by_one = 0  # queued values the bulk path could not take (tests read it)

    def add(self, histogram: Any, value: Any, attributes: Mapping[str, Any]) -> None:
        key = (id(histogram), id(attributes))
        with self._lock:
            if self._count < self.MAX_QUEUED:
                entry = self._pending.get(key)
                if entry is None:
                    entry = self._pending[key] = (histogram, attributes, [])
                entry[2].append(value)
                self._count += 1
                return
        histogram.record(value, attributes)  # full: nobody drains (metrics export off)

    def drain(self, options: Any = None) -> Iterable[Any]:
        """Record everything queued (the observable instrument's callback; observes nothing)."""
        with self._lock:
            pending, self._pending, self._count = self._pending, {}, 0
        for histogram, attributes, values in pending.values():
            record = histogram.record
            record(values[0], attributes)  # the SDK's own path: views, checks, a new attribute set
            rest = values[1:]
            if rest and not _aggregate_rest(histogram, attributes, rest):
                self.recorded_one_by_one += len(rest)
                for value in rest:
                    record(value, attributes)
        return ()

    def __len__(self) -> int:
        return self._count


class _Value:
    """What an SDK aggregation reads of a measurement: its value (exemplars are off)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _aggregate_rest(histogram: Any, attributes: Mapping[str, Any], values: List[Any]) -> bool:
    """Hand ``values`` straight to the aggregations the first value of the same attributes
    reached; False, having recorded nothing, when that cannot be done exactly.

    ``Histogram.record`` costs ~10 us a value (a ``Measurement``, attribute cleaning and
    hashing, the view's filter, three lookups), which at collection time made the queued
    durations half of the export thread's work for a hello-world app (benchmarks/README.md).
    The values of one attribute set all land in the same explicit-bucket aggregation, so
    they go to its ``aggregate`` directly: the SDK's own bucketing, sum, min and max, without
    the per-value lookups. This reads SDK internals (the reader storages and their
    aggregations); anything unexpected (another SDK layout, another aggregation, a value
    ``record`` would refuse) returns False and the caller records each value as before.
    tests/core/test_queued_durations.py compares both paths and checks this one is taken.
    """
    if min(values) < 0 or not math.isfinite(sum(values)):  # record() warns about these
        return False
    try:
        if not histogram._is_enabled():
            return False
        aggregations = []
        for storage in histogram._measurement_consumer._reader_storages.values():
            for match in storage._get_or_init_view_instrument_match(histogram):
                keys = match._view._attribute_keys
                kept = dict(attributes) if keys is None else {k: v for k, v in attributes.items() if k in keys}
                found = _aggregation_of(match._attributes_aggregation, kept)
                if len(found) != 1:
                    return False
                if isinstance(found[0], _DropAggregation):
                    continue
                if type(found[0]) is not _ExplicitBucketHistogramAggregation:
                    return False
                aggregations.append(found[0])
    except Exception:  # another SDK layout
        return False
    measurement = _Value(None)
    for aggregation in aggregations:
        aggregate = aggregation.aggregate
        for value in values:
            measurement.value = value
            aggregate(measurement, False)
    return True


def _aggregation_of(aggregations: Mapping[Any, Any], attributes: Dict[str, Any]) -> List[Any]:
    """The aggregations (one, or the caller gives up) the SDK keeps for ``attributes``: looked up
    by the SDK's own key where it has the function it builds them with (one dict lookup, however
    many attribute sets the histogram has), else found by comparing their attributes."""
    if _hash_attributes is not None:
        found = aggregations.get(_hash_attributes(attributes))
        return [found] if found is not None and found._attributes == attributes else []
    return [a for a in list(aggregations.values()) if a._attributes == attributes]


try:
    from opentelemetry.sdk.metrics._internal.aggregation import (
        _DropAggregation,
        _ExplicitBucketHistogramAggregation,
    )
except ImportError:  # another SDK layout: every value through record()
    _DropAggregation = _ExplicitBucketHistogramAggregation = type("_Absent", (), {})  # type: ignore[misc,assignment]
try:
    from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
except ImportError:  # an SDK that keys its aggregations otherwise: found by their attributes
    _hash_attributes = None


_QUEUES: "weakref.WeakKeyDictionary[Any, DurationQueue]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def duration_queue(meter_provider: Any, meter: Any) -> Optional[DurationQueue]:
    """The queue of ``meter_provider`` (an SDK ``MeterProvider``), its drain registered on
    ``meter`` (one of that provider's meters) the first time; None when the provider may sample
    exemplars (the durations are then recorded directly)."""
    if not _exemplars_off(meter_provider):
        return None
    with _LOCK:
        queue = _QUEUES.get(meter_provider)
        if queue is None:
            queue = DurationQueue()
            # One observable instrument per provider: a second one of the same name would be
            # refused, and its callback with it (its queue would never be drained).
            meter.create_observable_gauge(GAUGE_NAME, callbacks=[queue.drain])
            _QUEUES[meter_provider] = queue
        return queue


def _exemplars_off(meter_provider: Any) -> bool:
    try:
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter

        return isinstance(meter_provider._sdk_config.exemplar_filter, AlwaysOffExemplarFilter)
    except Exception:  # not the SDK's provider: record as usual
        return False


class QueuedHistogram:
    """A duration histogram whose ``record`` queues; the same name, unit and description.

    ``keys``: the attributes the metric's view keeps (the rest would be dropped at the
    record), or None to keep them all (the HTTP client durations, ``dependencies/duration``,
    whose few attributes are the method, status code and server). The attributes are shared
    per distinct value, so a queued request costs a tuple, not a dict.
    """

    MAX_SHAPES = 1024

    def __init__(self, histogram: Any, queue: DurationQueue, keys: Optional[Sequence[str]]) -> None:
        self._histogram = histogram
        self._queue = queue
        self._keys = None if keys is None else tuple(keys)
        self._shared: Dict[Tuple[Any, ...], Mapping[str, Any]] = {}

    def record(self, amount: Any, attributes: Optional[Mapping[str, Any]] = None, context: Any = None) -> None:
        if not attributes:
            shared: Mapping[str, Any] = _EMPTY
        elif self._keys is None:
            shape = tuple(attributes.items())
            try:
                shared = self._shared.get(shape) or self._keep(shape, dict(attributes))
            except TypeError:  # a list value (not hashable): this one keeps its own copy
                shared = dict(attributes)
        else:
            get = attributes.get
            values = tuple([get(key) for key in self._keys])
            shared = self._shared.get(values) or self._keep(
                values, {key: value for key, value in zip(self._keys, values) if value is not None})
        self._queue.add(self._histogram, amount, shared)

    def _keep(self, shape: Tuple[Any, ...], attributes: Mapping[str, Any]) -> Mapping[str, Any]:
        if len(self._shared) < self.MAX_SHAPES:
            self._shared[shape] = attributes
        return attributes

    def __getattr__(self, name: str) -> Any:  # name, unit, description, ...: the histogram's
        return getattr(self._histogram, name)
