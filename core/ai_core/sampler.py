"""Fixed-rate, trace-consistent sampling compatible with Application Insights.

The keep/drop decision for a trace id equals the official ``ApplicationInsightsSampler``'s
(a DJB2 hash of the hex trace id compared with the ratio), so a trace that crosses services
using either SDK is kept or dropped as a whole. Two deliberate differences:

* A child of a *local* parent follows the parent: an unsampled parent means DROP. That is
  what makes URL/route exclusion (a DROP at the server span) remove the request's children
  too; the official sampler ignores the parent and would export orphaned dependencies.
* The caller's attribute mapping is never mutated; a new mapping is returned.

``_MS.sampleRate`` (percent) is added to the span's attributes and becomes the envelope's
``sampleRate``, which is how Application Insights scales counts back up.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, Optional, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ai_core.errors import ConfigurationError
from ai_core.span_attributes import span_attributes
from ai_core.exclusion import is_excluded_context

__all__ = [
    "SAMPLE_RATE_ATTRIBUTE",
    "ApplicationInsightsSampler",
    "ExcludeHook",
    "djb2_score",
    "item_weight",
    "validate_sampling_ratio",
]

_logger = logging.getLogger(__name__)

SAMPLE_RATE_ATTRIBUTE = "_MS.sampleRate"
"""Span attribute carrying the sampling percentage; the exporter turns it into ``sampleRate``."""



def item_weight(sample_rate: Any) -> float:
    """How many items a kept one stands for: ``100 / sample_rate`` (a percentage, the span
    attribute or the envelope's ``sampleRate``); 1 when it is missing, unreadable or 100.
    Live Metrics and the performance counters count with it, so their rates are true rates."""
    if sample_rate is None:
        return 1.0
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        return 1.0
    return 100.0 / rate if 0 < rate < 100 else 1.0


ExcludeHook = Callable[[Attributes, str], bool]
"""``exclude(start_attributes, span_name) -> True`` drops a server span, or a root span that is
not an outgoing call (CLIENT/PRODUCER), at start."""

_OUTGOING = (SpanKind.CLIENT, SpanKind.PRODUCER)

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


def validate_sampling_ratio(value: Any, option: str = "sampling_ratio") -> float:
    """Return ``value`` as a float in 0..1, or raise ``ConfigurationError`` naming ``option``.

    Shared by the sampler constructor and the option table so both reject the same values
    with the same message.
    """
    # bool is an int subclass: ``sampling_ratio=True`` is a mistake, not 100 %.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(
            f"{option} must be a number from 0.0 to 1.0 (fraction of traces kept), "
            f"got {type(value).__name__} {value!r}"
        )
    ratio = float(value)
    if math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
        hint = " (a percentage? divide it by 100)" if 1.0 < ratio <= 100.0 else ""
        raise ConfigurationError(
            f"{option} must be from 0.0 to 1.0 (fraction of traces kept), got {value!r}{hint}"
        )
    return ratio


def djb2_score(trace_id_hex: str) -> float:
    """The sampling score in 0..1 of a 32-char lower-case hex trace id (DJB2, as Application Insights).

    The reference wraps to a signed 32-bit int after every step; wrapping once at the end is
    the same number (arithmetic modulo 2**32) and cheaper on the hot path.
    """
    h = 5381
    for ch in trace_id_hex:
        h = (h * 33 + ord(ch)) & 0xFFFFFFFF
    if h > _INT32_MAX:
        h -= 2**32
    h = _INT32_MAX if h == _INT32_MIN else abs(h)
    return h / _INT32_MAX


class ApplicationInsightsSampler(Sampler):
    """Keep ``sampling_ratio`` of all traces, decided by trace id, and tag spans with the rate.

    Args:
        sampling_ratio: fraction of traces kept, 0.0 to 1.0 (``ConfigurationError`` otherwise).
        exclude: optional ``(start_attributes, span_name) -> bool``; when it returns True for a
            server span or a root span other than an outgoing call (CLIENT, PRODUCER), that
            span is dropped and, through the local-parent rule, so is everything started
            under it. A hook that raises is logged once and
            treated as "not excluded" (telemetry must never break the request).
    """

    def __init__(self, sampling_ratio: float, exclude: Optional[ExcludeHook] = None) -> None:
        self._ratio = validate_sampling_ratio(sampling_ratio)
        self._sample_rate = self._ratio * 100
        self._exclude = exclude
        self._exclude_failed = False

    @property
    def sampling_ratio(self) -> float:
        return self._ratio

    def should_sample(
        self,
        parent_context: Optional[Context],
        trace_id: int,
        name: str,
        kind: Optional[SpanKind] = None,
        attributes: Attributes = None,
        links: Optional[Sequence[Link]] = None,
        trace_state: Optional[TraceState] = None,
    ) -> SamplingResult:
        # get_current_span(None) reads the implicit current context, so children started with
        # start_as_current_span (the SDK passes context=None) see their parent too.
        if is_excluded_context(parent_context):  # an adapter excluded the request it is serving
            return self._result(Decision.DROP, attributes, self._sample_rate, None)
        parent = trace.get_current_span(parent_context)
        parent_ctx = parent.get_span_context()
        parent_state = parent_ctx.trace_state if parent_ctx.is_valid else None
        local_parent = parent_ctx.is_valid and not parent_ctx.is_remote

        if local_parent:
            if not parent_ctx.trace_flags.sampled:
                return self._result(Decision.DROP, attributes, self._sample_rate, parent_state)
            if kind is SpanKind.SERVER and self._excluded(attributes, name):
                return self._result(Decision.DROP, attributes, self._sample_rate, parent_state)
            return self._result(
                Decision.RECORD_AND_SAMPLE, attributes, _parent_rate(parent, self._sample_rate), parent_state
            )

        # An outgoing call or message outside any request is not a request: a URL pattern
        # meant for incoming paths (``/health``) must not drop a background job's call to some
        # other service's ``/health``, which the same call inside a request would keep.
        if kind not in _OUTGOING and self._excluded(attributes, name):
            return self._result(Decision.DROP, attributes, self._sample_rate, parent_state)
        return self._result(self._decide(trace_id), attributes, self._sample_rate, parent_state)

    def get_description(self) -> str:
        return f"ApplicationInsightsSampler{{{self._ratio}}}"

    def _decide(self, trace_id: int) -> Decision:
        if self._sample_rate == 0:
            return Decision.DROP
        # Checked apart from the score: a score of exactly 1.0 exists and must be kept at 100 %.
        if self._sample_rate == 100:
            return Decision.RECORD_AND_SAMPLE
        if djb2_score(format(trace_id, "032x")) < self._ratio:
            return Decision.RECORD_AND_SAMPLE
        return Decision.DROP

    def _excluded(self, attributes: Attributes, name: str) -> bool:
        if self._exclude is None:
            return False
        try:
            return bool(self._exclude(attributes, name))
        except Exception:  # a user hook must not break span creation
            if not self._exclude_failed:
                self._exclude_failed = True
                _logger.warning("the exclusion hook raised; spans are not excluded", exc_info=True)
            return False

    @staticmethod
    def _result(
        decision: Decision, attributes: Attributes, rate: float, trace_state: Optional[TraceState]
    ) -> SamplingResult:
        # A new dict: the official sampler writes into the caller's mapping, which may be shared.
        new_attributes: Dict[str, Any] = dict(attributes) if attributes else {}
        new_attributes[SAMPLE_RATE_ATTRIBUTE] = rate
        return SamplingResult(decision, new_attributes, trace_state)


def _parent_rate(parent: trace.Span, default: float) -> float:
    """The parent's ``_MS.sampleRate`` when it carries one, so a whole trace reports one rate."""
    parent_attributes = span_attributes(parent)
    if parent_attributes:
        rate = parent_attributes.get(SAMPLE_RATE_ATTRIBUTE)
        if isinstance(rate, (int, float)) and not isinstance(rate, bool):
            return float(rate)
    return default
