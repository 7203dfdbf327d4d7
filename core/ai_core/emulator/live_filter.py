"""The Live tab's filter box: a line of text -> the document filter groups of a collection
configuration (the ``DocumentStreams`` of the Live Metrics protocol).

Syntax (case-insensitive keywords)::

    <type> [where <condition> [and <condition>]...] [; or "or <type> ..." for another group]

    requests where Success = false and role = shop
    dependencies where Duration > 500
    requests where ResponseCode >= 500 or exceptions where Message contains timeout
    traces where CustomDimensions.tenant = acme; events

Types: requests, dependencies, exceptions, events, traces. Operators: ``=`` ``!=`` ``<``
``<=`` ``>`` ``>=`` ``contains`` ``!contains``. Fields are those the protocol filters on:
requests Name, Url, ResponseCode, Success, Duration; dependencies Name, Target, Type, Data,
ResultCode, Success, Duration; exceptions Message, StackTrace; traces Message; events Name;
every type ``CustomDimensions.<key>`` and ``*`` (any field, contains only). ``Duration`` is in
milliseconds (``500``, ``500ms`` or ``0.5s``) and is sent as the portal sends it, a TimeSpan
``d.h:m:s`` (``0.0:0:0.5``). Values may be quoted (``Name = "GET /a b"``).

``role`` and ``instance`` conditions are not document fields: like the portal's choice of
servers they pick which apps receive the group, so each app gets the configuration meant for
it (the emulator answers each stream with its own ``DocumentStreams`` and ETag).

An empty filter is the portal's default stream: failed requests and dependencies, every
exception, event and trace.

Charts of your own (the protocol's derived ``Metrics``, computed by each app every second),
separated by ``;``::

    <count | sum | avg | min | max> [<projection>] of <type> [where <condition> [and ...]]

    count of requests where Success = false
    avg Duration of dependencies where Target contains inventory
    max CustomDimensions.amount of events where role = shop

The projection is ``Duration`` (requests and dependencies, milliseconds) or
``CustomDimensions.<key>``; ``count`` counts the matching items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

TYPES = {
    "request": "Request", "requests": "Request",
    "dependency": "Dependency", "dependencies": "Dependency",
    "exception": "Exception", "exceptions": "Exception",
    "event": "Event", "events": "Event",
    "trace": "Trace", "traces": "Trace", "log": "Trace", "logs": "Trace",
}
FIELDS: Dict[str, Tuple[str, ...]] = {
    "Request": ("Name", "Url", "ResponseCode", "Success", "Duration"),
    "Dependency": ("Name", "Target", "Type", "Data", "ResultCode", "Success", "Duration"),
    "Exception": ("Exception.Message", "Exception.StackTrace"),
    "Event": ("Name",),
    "Trace": ("Message",),
}
SERVER_FIELDS = ("role", "instance")
OPERATORS = {
    "=": "Equal", "==": "Equal", "!=": "NotEqual", "<>": "NotEqual", "<": "LessThan", ">": "GreaterThan",
    "<=": "LessThanOrEqual", ">=": "GreaterThanOrEqual", "contains": "Contains",
    "!contains": "DoesNotContain", "not contains": "DoesNotContain",
}
_TEXT_PREDICATES = ("Equal", "NotEqual", "Contains", "DoesNotContain")
_NUMERIC = ("ResponseCode", "ResultCode")
_CONDITION = re.compile(
    r"""^\s*(?P<field>[\w.*-]+|\*)\s*(?P<op>!=|<>|<=|>=|==|=|<|>|!contains\b|not\s+contains\b|contains\b)\s*
        (?P<value>"[^"]*"|'[^']*'|.+?)\s*$""", re.IGNORECASE | re.VERBOSE)
_GROUP_SPLIT = re.compile(r"\s*;\s*|\s+or\s+(?=(?:%s)\b)" % "|".join(TYPES), re.IGNORECASE)
_AND_SPLIT = re.compile(r"\s+and\s+", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$", re.IGNORECASE)
MAX_TEXT = 2000


class FilterError(ValueError):
    """The filter text cannot be understood; the message says where and why."""


AGGREGATIONS = {"count": "Sum", "sum": "Sum", "avg": "Avg", "average": "Avg", "min": "Min", "max": "Max"}
_CHART = re.compile(r"^\s*(?P<agg>\w+)\s+(?:(?P<projection>[\w.]+)\s+)?of\s+(?P<rest>.+)$", re.IGNORECASE)
MAX_CHARTS = 10

@dataclass
class Group:
    """One filter group: documents of ``telemetry_type`` matching every filter, sent only by the
    apps matching every server condition."""

    telemetry_type: str
    filters: List[Dict[str, str]] = field(default_factory=list)
    servers: List[Tuple[str, str, str]] = field(default_factory=list)  # (role|instance, predicate, value)

    def to_json(self) -> Dict[str, Any]:
        return {"TelemetryType": self.telemetry_type, "Filters": {"Filters": list(self.filters)}}

    def sent_to(self, role: str, instance: str) -> bool:
        values = {"role": role or "", "instance": instance or ""}
        return all(_text_matches(values[name], predicate, value) for name, predicate, value in self.servers)


@dataclass
class Chart:
    """A derived metric: ``aggregation`` of ``projection`` over the items ``group`` selects."""

    label: str
    group: Group
    projection: str  # Count(), Duration or CustomDimensions.<key>
    aggregation: str  # Sum, Avg, Min, Max

    def to_json(self, metric_id: str) -> Dict[str, Any]:
        return {"Id": metric_id, "TelemetryType": self.group.telemetry_type,
                "FilterGroups": [{"Filters": list(self.group.filters)}], "Projection": self.projection,
                "Aggregation": self.aggregation, "BackEndAggregation": self.aggregation}


def parse_charts(text: str) -> List[Chart]:
    """The charts of a ``;``-separated text (empty: none); ``FilterError`` when invalid."""
    if not isinstance(text, str):
        raise FilterError("the charts must be text")
    if len(text) > MAX_TEXT:
        raise FilterError("the charts are longer than %d characters" % MAX_TEXT)
    charts = [_chart(part.strip()) for part in _split(re.compile(r"\s*;\s*"), text) if part.strip()]
    if len(charts) > MAX_CHARTS:
        raise FilterError("at most %d charts" % MAX_CHARTS)
    return charts


def _chart(text: str) -> Chart:
    match = _CHART.match(text)
    if match is None or match.group("agg").lower() not in AGGREGATIONS:
        raise FilterError("%r: a chart is <count|sum|avg|min|max> [Duration|CustomDimensions.<key>] of <type> "
                          "[where ...], e.g. avg Duration of requests" % text)
    agg = match.group("agg").lower()
    group = _group(match.group("rest"))
    projection = match.group("projection")
    if agg == "count":
        if projection:
            raise FilterError("%r: count counts items; write 'count of %s'" % (text, match.group("rest").split()[0]))
        return Chart(text, group, "Count()", "Sum")
    if not projection:
        raise FilterError("%r: %s of what? Duration or CustomDimensions.<key>" % (text, agg))
    if projection.lower() == "duration":
        if group.telemetry_type not in ("Request", "Dependency"):
            raise FilterError("%r: only requests and dependencies have a Duration" % text)
        projection = "Duration"
    elif projection.lower().startswith("customdimensions.") and len(projection) > len("customdimensions."):
        projection = "CustomDimensions." + projection.split(".", 1)[1]
    else:
        raise FilterError("%r: the value charted is Duration or CustomDimensions.<key>, not %r" % (text, projection))
    return Chart(text, group, projection, AGGREGATIONS[agg])


def _text_matches(value: str, predicate: str, comparand: str) -> bool:
    if predicate == "Equal":
        return value == comparand
    if predicate == "NotEqual":
        return value != comparand
    if predicate == "Contains":
        return comparand.lower() in value.lower()
    return comparand.lower() not in value.lower()


def default_groups() -> List[Group]:
    """The portal's default stream: failed requests and dependencies, all exceptions, events and
    traces."""
    failed = [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]
    return [Group("Request", list(failed)), Group("Dependency", list(failed)),
            Group("Exception"), Group("Event"), Group("Trace")]


def timespan(ms: float) -> str:
    """Milliseconds as the portal writes a Duration comparand: ``[days].[hours]:[minutes]:[seconds]``."""
    seconds = ms / 1000.0
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return "%d.%d:%d:%s" % (days, hours, minutes, ("%.6f" % secs).rstrip("0").rstrip("."))


def _split(pattern: "re.Pattern[str]", text: str) -> List[str]:
    """``pattern.split(text)``, except where the separator is inside a quoted value."""
    quoted = [m.span() for m in re.finditer(r"\"[^\"]*\"|'[^']*'", text)]
    parts, start = [], 0
    for m in pattern.finditer(text):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        parts.append(text[start:m.start()])
        start = m.end()
    parts.append(text[start:])
    return parts


def parse(text: str) -> List[Group]:
    """The groups of a filter text (empty: the default stream); ``FilterError`` when invalid."""
    if not isinstance(text, str):
        raise FilterError("the filter must be text")
    if len(text) > MAX_TEXT:
        raise FilterError("the filter is longer than %d characters" % MAX_TEXT)
    text = text.strip()
    if not text:
        return default_groups()
    return [_group(part) for part in _split(_GROUP_SPLIT, text) if part.strip()]


def _group(text: str) -> Group:
    words = text.strip().split(None, 1)
    kind = TYPES.get(words[0].lower())
    if kind is None:
        raise FilterError("%r: start with what to show (requests, dependencies, exceptions, events "
                          "or traces), then 'where' and conditions" % text.strip())
    group = Group(kind)
    rest = words[1].strip() if len(words) > 1 else ""
    if not rest:
        return group
    head = rest.split(None, 1)
    if head[0].lower() not in ("where", ":") and not rest.startswith(":"):
        raise FilterError("%r: after %s write 'where' and the conditions" % (text.strip(), words[0]))
    rest = rest[1:] if rest.startswith(":") else (head[1] if len(head) > 1 else "")
    if not rest.strip():
        raise FilterError("%r: 'where' needs a condition, e.g. Success = false" % text.strip())
    for condition in _split(_AND_SPLIT, rest.strip()):
        _condition(group, condition)
    return group


def _condition(group: Group, text: str) -> None:
    match = _CONDITION.match(text)
    if match is None:
        raise FilterError("%r: a condition is <field> <operator> <value>, e.g. Duration > 500" % text.strip())
    name, op, value = match.group("field"), " ".join(match.group("op").lower().split()), match.group("value")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    predicate = OPERATORS[op]
    if name.lower() in SERVER_FIELDS:
        if predicate not in _TEXT_PREDICATES:
            raise FilterError("%s compares as text (=, !=, contains, !contains), not with %s" % (name, op))
        group.servers.append((name.lower(), predicate, value))
        return
    field_name = _field(group.telemetry_type, name)
    if value == "":
        raise FilterError("%s %s: the value is empty" % (name, op))
    if field_name == "*":
        if predicate not in ("Contains", "DoesNotContain"):
            raise FilterError("* (any field) supports only contains and !contains")
    elif field_name == "Success":
        if predicate not in ("Equal", "NotEqual") or value.lower() not in ("true", "false"):
            raise FilterError("Success compares with = or != to true or false, not %r" % value)
        value = value.lower()
    elif field_name == "Duration":
        duration = _DURATION.match(value.strip())
        if duration is None:
            raise FilterError("Duration is in milliseconds (500, 500ms or 0.5s), not %r" % value)
        ms = float(duration.group(1)) * (1000.0 if (duration.group(2) or "").lower() == "s" else 1.0)
        value = timespan(ms)
    elif field_name in _NUMERIC:
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise FilterError("%s compares with a number, not %r" % (field_name, value))
        value = value.strip()
    elif predicate not in _TEXT_PREDICATES:
        raise FilterError("%s compares as text (=, !=, contains, !contains), not with %s" % (field_name, op))
    group.filters.append({"FieldName": field_name, "Predicate": predicate, "Comparand": value})


def _field(kind: str, name: str) -> str:
    if name == "*" or name.lower() == "any":
        return "*"
    if name.lower().startswith("customdimensions.") and len(name) > len("customdimensions."):
        return "CustomDimensions." + name.split(".", 1)[1]
    known = FIELDS[kind]
    for candidate in known:
        if name.lower() in (candidate.lower(), candidate.split(".")[-1].lower()):
            return candidate
    plain = [c.split(".")[-1] for c in known]
    raise FilterError("%s have no field %r (they have %s, CustomDimensions.<key>, *; and role, instance)"
                      % (kind.lower() + "s" if kind != "Dependency" else "dependencies", name, ", ".join(plain)))
