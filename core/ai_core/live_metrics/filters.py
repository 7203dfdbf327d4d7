"""The portal's collection configuration (``CollectionConfigurationInfo``): which documents to
send (``DocumentStreams``), which derived metrics to compute (``Metrics``), and the errors to
report back (``CollectionConfigurationErrors``) for the parts that cannot be applied.

Semantics, as in the service definition and the other SDKs: a document stream is a list of
filter groups, ORed; a group holds filters for one telemetry type, ANDed. A derived metric
projects ``Count()``, ``Duration`` (milliseconds), ``CustomDimensions.<key>`` or
``CustomMetrics.<key>`` of the matching items and aggregates them per second (``Sum``,
``Avg``, ``Min``, ``Max``). String comparisons: ``Equal``/``NotEqual`` exact,
``Contains``/``DoesNotContain`` case-insensitive. ``Duration`` comparands are TimeSpans
(``0.00:00:00.5``); ``ResponseCode``/``ResultCode`` compare as numbers; ``*`` searches every
column and custom dimension. Anything else is refused with an error the portal shows, instead
of being ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ai_core.live_metrics.documents import LiveItem, known_columns, timespan_seconds

__all__ = ["LiveConfiguration", "DerivedMetric", "parse_configuration"]

ANY_FIELD = "*"
CUSTOM_DIMENSION = "CustomDimensions."
CUSTOM_METRIC = "CustomMetrics."
_STRING_PREDICATES = ("Equal", "NotEqual", "Contains", "DoesNotContain")
_ORDER_PREDICATES = ("Equal", "NotEqual", "LessThan", "GreaterThan", "LessThanOrEqual", "GreaterThanOrEqual")
_NUMERIC = ("ResponseCode", "ResultCode")
_TYPES = ("Request", "Dependency", "Exception", "Event", "Trace")
_AGGREGATIONS = ("Sum", "Avg", "Min", "Max")
# Document quota per stream (QuotaInfo overrides): a token bucket, so a burst of failures
# cannot turn into thousands of documents a second.
DEFAULT_INITIAL_QUOTA = 30.0
DEFAULT_MAX_QUOTA = 30.0
DEFAULT_QUOTA_PER_S = 30.0


class ConfigError(ValueError):
    """One part of the configuration that cannot be applied; ``kind`` is the service's error type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Filter:
    field: str
    predicate: str
    comparand: Any  # parsed: float seconds for Duration, int for codes, bool for Success, else str

    def matches(self, item: LiveItem) -> bool:
        if self.field == ANY_FIELD:
            values = [v for v in item.columns.values() if v is not None]
            values += list(item.properties.values())
            hits = [self.comparand.lower() in str(v).lower() for v in values]
            return any(hits) if self.predicate == "Contains" else not any(hits)
        if self.field.startswith(CUSTOM_DIMENSION):
            key = self.field[len(CUSTOM_DIMENSION):]
            if key not in item.properties:
                return False
            return _compare_text(str(item.properties[key]), self.predicate, self.comparand)
        value = item.columns.get(self.field)
        if value is None:
            return False
        if isinstance(self.comparand, bool):
            return (value == self.comparand) == (self.predicate == "Equal")
        if isinstance(self.comparand, (int, float)):
            return _compare_number(float(value), self.predicate, float(self.comparand))
        return _compare_text(str(value), self.predicate, self.comparand)


def _compare_text(value: str, predicate: str, comparand: str) -> bool:
    if predicate == "Equal":
        return value == comparand
    if predicate == "NotEqual":
        return value != comparand
    if predicate == "Contains":
        return comparand.lower() in value.lower()
    return comparand.lower() not in value.lower()  # DoesNotContain


def _compare_number(value: float, predicate: str, comparand: float) -> bool:
    return {
        "Equal": value == comparand, "NotEqual": value != comparand,
        "LessThan": value < comparand, "GreaterThan": value > comparand,
        "LessThanOrEqual": value <= comparand, "GreaterThanOrEqual": value >= comparand,
    }[predicate]


Group = Tuple[Filter, ...]


def _matches_group(group: Group, item: LiveItem) -> bool:
    for f in group:
        if not f.matches(item):
            return False
    return True


@dataclass
class DocumentStream:
    id: str
    groups: Dict[str, List[Group]]  # telemetry type -> groups (ORed)
    max_quota: float = DEFAULT_MAX_QUOTA
    quota_per_s: float = DEFAULT_QUOTA_PER_S
    quota: float = DEFAULT_INITIAL_QUOTA

    def wants(self, item: LiveItem) -> bool:
        groups = self.groups.get(item.kind)
        return bool(groups) and any(_matches_group(g, item) for g in groups)

    def refill(self, seconds: float) -> None:
        self.quota = min(self.max_quota, self.quota + seconds * self.quota_per_s)

    def take(self) -> bool:
        if self.quota >= 1.0:
            self.quota -= 1.0
            return True
        return False


@dataclass(frozen=True)
class DerivedMetric:
    id: str
    kind: str
    groups: Tuple[Group, ...]
    projection: str
    aggregation: str

    def matches(self, item: LiveItem) -> bool:
        return item.kind == self.kind and (not self.groups or any(_matches_group(g, item) for g in self.groups))

    def project(self, item: LiveItem) -> Optional[float]:
        if self.projection == "Count()":
            return 1.0
        if self.projection == "Duration":
            return item.duration_ms
        source: Mapping[str, Any] = item.properties
        key = self.projection
        if key.startswith(CUSTOM_DIMENSION):
            key = key[len(CUSTOM_DIMENSION):]
        else:
            source, key = item.measurements, key[len(CUSTOM_METRIC):]
        try:
            return float(source[key])
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class LiveConfiguration:
    """A parsed collection configuration; ``LiveConfiguration()`` is "nothing configured"."""

    etag: str = ""
    streams: List[DocumentStream] = field(default_factory=list)
    metrics: List[DerivedMetric] = field(default_factory=list)
    errors: List[Dict[str, Any]] = field(default_factory=list)


def _error(kind: str, message: str, etag: str, **data: str) -> Dict[str, Any]:
    pairs = [{"key": k, "value": str(v)} for k, v in data.items()]
    pairs.append({"key": "ETag", "value": etag})
    return {"CollectionConfigurationErrorType": kind, "Message": message, "FullException": "", "Data": pairs}


def _parse_filter(raw: Any, kind: str, error_kind: str) -> Filter:
    if not isinstance(raw, Mapping):
        raise ConfigError(error_kind, "a filter must be an object with FieldName, Predicate and Comparand")
    name, predicate, comparand = raw.get("FieldName"), raw.get("Predicate"), raw.get("Comparand")
    if not isinstance(name, str) or not name:
        raise ConfigError(error_kind, "a filter has no FieldName")
    if predicate not in _ORDER_PREDICATES + ("Contains", "DoesNotContain"):
        raise ConfigError(error_kind, "unknown predicate %r for field %s" % (predicate, name))
    if not isinstance(comparand, str) or comparand == "":
        raise ConfigError(error_kind, "the filter on %s has an empty comparand" % name)
    if kind == "Exception" and name.startswith("Exception."):
        name = name[len("Exception."):]
    if name == ANY_FIELD:
        if predicate not in ("Contains", "DoesNotContain"):
            raise ConfigError(error_kind, "the field * supports only Contains and DoesNotContain, not %s" % predicate)
        return Filter(name, predicate, comparand)
    if name.startswith(CUSTOM_DIMENSION):
        if predicate not in _STRING_PREDICATES:
            raise ConfigError(error_kind, "custom dimensions compare as text: %s is not supported" % predicate)
        return Filter(name, predicate, comparand)
    if name not in known_columns().get(kind, ()):
        raise ConfigError(error_kind, "%s items have no field %s" % (kind, name))
    if name == "Success":
        if predicate not in ("Equal", "NotEqual") or comparand.strip().lower() not in ("true", "false"):
            raise ConfigError(error_kind, "Success compares with Equal/NotEqual to true or false")
        return Filter(name, predicate, comparand.strip().lower() == "true")
    if name == "Duration":
        seconds = timespan_seconds(comparand)
        if seconds is None or predicate not in _ORDER_PREDICATES:
            raise ConfigError(error_kind, "Duration compares with a TimeSpan like 0.00:00:00.5, got %r" % comparand)
        return Filter(name, predicate, seconds)
    if name in _NUMERIC:
        try:
            number = int(comparand.strip())
        except ValueError:
            raise ConfigError(error_kind, "%s compares with a number, got %r" % (name, comparand)) from None
        if predicate not in _ORDER_PREDICATES:
            raise ConfigError(error_kind, "%s does not support %s" % (name, predicate))
        return Filter(name, predicate, number)
    if predicate not in _STRING_PREDICATES:
        raise ConfigError(error_kind, "%s compares as text: %s is not supported" % (name, predicate))
    return Filter(name, predicate, comparand)


def _filters_of(group: Any) -> List[Any]:
    """``{"Filters": [...]}`` -> the list (a FilterConjunctionGroupInfo)."""
    if not isinstance(group, Mapping) or not isinstance(group.get("Filters", []), list):
        raise ConfigError("FilterFailureToCreateUnexpected", "a filter group must be {\"Filters\": [...]}")
    return group.get("Filters") or []


def _quota(raw: Any) -> Tuple[float, float, float]:
    if not isinstance(raw, Mapping):
        return DEFAULT_INITIAL_QUOTA, DEFAULT_MAX_QUOTA, DEFAULT_QUOTA_PER_S
    try:
        max_quota = float(raw.get("MaxQuota", DEFAULT_MAX_QUOTA))
        per_s = float(raw.get("QuotaAccrualRatePerSec", DEFAULT_QUOTA_PER_S))
        initial = raw.get("InitialQuota")
        initial = float(initial) if initial is not None else max_quota
    except (TypeError, ValueError):
        return DEFAULT_INITIAL_QUOTA, DEFAULT_MAX_QUOTA, DEFAULT_QUOTA_PER_S
    return max(initial, 0.0), max(max_quota, 0.0), max(per_s, 0.0)


def parse_configuration(body: Any) -> LiveConfiguration:
    """Everything of ``body`` that can be applied, and one error per part that cannot."""
    if not isinstance(body, Mapping):
        return LiveConfiguration(errors=[_error(
            "CollectionConfigurationFailureToCreateUnexpected", "the configuration is not a JSON object", "")])
    etag = str(body.get("ETag") or "")
    config = LiveConfiguration(etag=etag)
    initial, max_quota, per_s = _quota(body.get("QuotaInfo"))
    streams = body.get("DocumentStreams") or []
    if not isinstance(streams, list):
        streams = []
        config.errors.append(_error("CollectionConfigurationFailureToCreateUnexpected",
                                    "DocumentStreams is not a list", etag))
    seen_streams = set()
    for raw in streams:
        stream_id = str(raw.get("Id", "")) if isinstance(raw, Mapping) else ""
        if not stream_id or not isinstance(raw.get("DocumentFilterGroups", []), list):
            config.errors.append(_error("DocumentStreamFailureToCreate", "a document stream has no Id or no "
                                        "DocumentFilterGroups list", etag, DocumentStreamInfoId=stream_id))
            continue
        if stream_id in seen_streams:
            config.errors.append(_error("DocumentStreamDuplicateIds", "document stream %s is given twice" % stream_id,
                                        etag, DocumentStreamInfoId=stream_id))
            continue
        seen_streams.add(stream_id)
        stream = DocumentStream(stream_id, {}, max_quota=max_quota, quota_per_s=per_s, quota=initial)
        for group in raw.get("DocumentFilterGroups") or []:
            kind = group.get("TelemetryType") if isinstance(group, Mapping) else None
            try:
                if kind not in _TYPES:
                    raise ConfigError("DocumentStreamFailureToCreate",
                                      "telemetry type %r has no documents (supported: %s)" % (kind, ", ".join(_TYPES)))
                filters = tuple(_parse_filter(f, kind, "DocumentStreamFailureToCreateFilterUnexpected")
                                for f in _filters_of(group.get("Filters")))
            except ConfigError as exc:
                config.errors.append(_error(exc.kind, str(exc), etag, DocumentStreamInfoId=stream_id))
                continue
            stream.groups.setdefault(kind, []).append(filters)
        config.streams.append(stream)
    metrics = body.get("Metrics") or []
    if not isinstance(metrics, list):
        metrics = []
        config.errors.append(_error("CollectionConfigurationFailureToCreateUnexpected", "Metrics is not a list", etag))
    seen_metrics = set()
    for raw in metrics:
        metric_id = str(raw.get("Id", "")) if isinstance(raw, Mapping) else ""
        try:
            if not metric_id:
                raise ConfigError("MetricFailureToCreate", "a derived metric has no Id")
            if metric_id in seen_metrics:
                raise ConfigError("MetricDuplicateIds", "derived metric %s is given twice" % metric_id)
            seen_metrics.add(metric_id)
            config.metrics.append(_parse_metric(raw, metric_id))
        except ConfigError as exc:
            config.errors.append(_error(exc.kind, str(exc), etag, MetricId=metric_id))
    return config


def _parse_metric(raw: Mapping[str, Any], metric_id: str) -> DerivedMetric:
    kind = raw.get("TelemetryType")
    if kind not in _TYPES:
        raise ConfigError("MetricTelemetryTypeUnsupported",
                          "telemetry type %r is not supported for derived metrics (supported: %s)" % (kind, ", ".join(_TYPES)))
    projection = raw.get("Projection")
    if not isinstance(projection, str) or not (
        projection in ("Count()", "Duration") or projection.startswith((CUSTOM_DIMENSION, CUSTOM_METRIC))
    ):
        raise ConfigError("MetricFailureToCreate", "projection %r is not supported (Count(), Duration, "
                          "CustomDimensions.<key>, CustomMetrics.<key>)" % (projection,))
    if projection == "Duration" and kind not in ("Request", "Dependency"):
        raise ConfigError("MetricFailureToCreate", "%s items have no Duration" % kind)
    aggregation = raw.get("Aggregation")
    if aggregation not in _AGGREGATIONS:
        raise ConfigError("MetricFailureToCreate", "aggregation %r is not one of %s" % (aggregation, ", ".join(_AGGREGATIONS)))
    groups_raw = raw.get("FilterGroups") or []
    if not isinstance(groups_raw, list):
        raise ConfigError("MetricFailureToCreateFilterUnexpected", "FilterGroups is not a list")
    groups = tuple(
        tuple(_parse_filter(f, kind, "MetricFailureToCreateFilterUnexpected") for f in _filters_of(g)) for g in groups_raw
    )
    return DerivedMetric(metric_id, kind, groups, projection, aggregation)
