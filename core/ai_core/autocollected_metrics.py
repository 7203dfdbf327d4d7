"""The meter provider the stock instrumentations get: their unused instruments cost nothing.

The HTTP instrumentations record up to four instruments per request (duration, active
requests, request and response body sizes). Application Insights keeps only the duration (as
the standard metric ``requests/duration`` / ``dependencies/duration``); the others would be
dropped at export (``ai_core.envelopes.metrics``), after the SDK aggregated them on the
request thread. Handing the instrumentations no-op instruments for those names removes that
work from every request (benchmarks/README.md has the figures), while the
instruments the app creates itself, through the global meter provider, are never touched.
The request and HTTP client duration histograms it does keep record off the request thread
(``ai_core.queued_durations``).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import NoOpHistogram, NoOpUpDownCounter
from opentelemetry.sdk.metrics.view import View

from ai_core.envelopes.metrics import DROPPED_INSTRUMENTS, REQUEST_DURATION_NAMES, REQUEST_DURATION_KEYS
from ai_core.envelopes.metrics import _DEPENDENCY_DURATION_NAMES as DEPENDENCY_DURATION_NAMES
from ai_core.queued_durations import QueuedHistogram, duration_queue

__all__ = ["AutocollectedMeterProvider", "standard_metric_views"]


def standard_metric_views() -> list:
    """The request duration histograms keep only the attributes ``requests/duration`` uses.

    The standard metric's dimensions are the result code (plus role and synthetic source,
    which come from elsewhere); the instrumentations record a dozen attributes (method,
    scheme, host, port, route, ...). Aggregating by the status code alone sends the same
    numbers in one envelope per status code instead of one per route and method, and saves
    hashing the other attributes on every request.

    The role is the process's (README, "Where the role name comes from"), also for the
    requests of a second app with a role of its own: the instrumentations record the
    histogram with attributes of their own making, so carrying the app's role would take a
    wrapper on every request's ``record`` that reads the request span's role and copies the
    attributes, plus a role key here and in ``ai_core.envelopes.metrics``. Left undone until a
    multi-role process needs it; the Request items themselves carry the right role.
    """
    return [View(instrument_name=name, attribute_keys=set(REQUEST_DURATION_KEYS)) for name in REQUEST_DURATION_NAMES]


class AutocollectedMeterProvider:
    """Wraps the pipeline's MeterProvider for the instrumentations (``meter_provider=``)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        return _AutocollectedMeter(self._provider.get_meter(*args, **kwargs), self._provider)

    def __getattr__(self, name: str) -> Any:  # force_flush, shutdown, ...: the real provider's
        return getattr(self._provider, name)


class _AutocollectedMeter:
    """A meter whose instruments named in ``DROPPED_INSTRUMENTS`` record nothing and whose
    request duration histograms record at the next collection."""

    def __init__(self, meter: Any, provider: Any) -> None:
        self._meter = meter
        self._provider = provider

    def create_histogram(self, name: str, *args: Any, **kwargs: Any) -> Any:
        lowered = name.lower()
        if lowered in DROPPED_INSTRUMENTS:
            return NoOpHistogram(name)
        histogram = self._meter.create_histogram(name, *args, **kwargs)
        if lowered in REQUEST_DURATION_NAMES or lowered in DEPENDENCY_DURATION_NAMES:
            queue = duration_queue(self._provider, self._meter)
            if queue is not None:
                keys = REQUEST_DURATION_KEYS if lowered in REQUEST_DURATION_NAMES else None
                return QueuedHistogram(histogram, queue, keys)
        return histogram

    def create_up_down_counter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name.lower() in DROPPED_INSTRUMENTS:
            return NoOpUpDownCounter(name)
        return self._meter.create_up_down_counter(name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # every other instrument kind: the real meter's
        return getattr(self._meter, name)
