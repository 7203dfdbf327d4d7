"""The common span shapes written straight to their JSON bytes, without the envelope dicts.

Nearly every span a web app exports is one of three shapes: a server's HTTP request, an HTTP
client call, a database call. For those, when no telemetry processor needs the envelope as a
dict, :func:`span_item` writes the bytes :func:`ai_core.delivery.encode.encode_item` would
write for :func:`ai_core.envelopes.spans.span_to_envelopes`'s envelope, into a template whose
constant parts are encoded once: the envelope name, the instrumentation key, the part-A tags
of the resource and role, the field names. Everything that depends only on the span's kind,
scope, name and attribute values (the branch of the mapping, the name, URL, target, codes,
properties, the tags after the ids) is computed once per distinct set of those, encoded, and
kept in a bounded cache (apps repeat the same routes, statements and URLs); per span only the
ids, times, duration, status and the request context's tags are written. The values go
through the same field functions as the general path (``span_fields``), and strings through
the standard library's own JSON string encoder, so the bytes are the same
(tests/delivery/test_span_bytes.py compares them over random attribute sets of each shape,
with request contexts, app roles and values equal across types). Anything else (a span with
events or links, a value of an unexpected type) answers None: the general path converts it
(benchmarks/README.md, "Export thread, 2026-12-06: common shapes written directly").
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii as _enc  # type: ignore[attr-defined]
from typing import Any, Dict, Optional, Tuple

from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import SpanKind, StatusCode

from ai_core.envelopes import spans as _spans
from ai_core.envelopes.common import (
    MAX_DATA,
    MAX_NAME,
    MAX_URL,
    format_duration,
    format_time,
    resource_tags,
)
from ai_core.envelopes.span_fields import (
    _KEY_LIMITS,
    _key_limit,
    client_ip,
    db_dependency_target,
    db_dependency_type,
    db_statement,
    http_dependency_target,
    http_dependency_url,
    http_request_name,
    http_request_url,
    operation_name_from_url,
    status_code,
    user_agent,
)
from ai_core.privacy import safe_url
from ai_core.request_attributes import APP_ROLE, AUTH_USER_ID, TAG_AUTH_USER_ID, TAG_USER_ID, USER_ID
from ai_core.span_attributes import span_attributes

__all__ = ["span_item"]

_SERVER = SpanKind.SERVER
_CLIENT = SpanKind.CLIENT
_ERROR = StatusCode.ERROR
_INF = float("inf")

_SERVER_HTTP = 1
_CLIENT_HTTP = 2
_CLIENT_DB = 3

# Keys whose presence sends a span to the general path: branches of the mapping these shapes
# leave out (Azure SDK spans, Celery task states, GenAI, custom measurements, an app's role).
_GENERAL_ONLY = frozenset((
    "az.namespace", "celery.state", "gen_ai.system", "microsoft.custom_measurements", APP_ROLE,
))
# Keys the user, session and synthetic tags are read from.
_TAG_KEYS = frozenset((
    AUTH_USER_ID, USER_ID, "session.id", "user_agent.synthetic.type", "user_agent.original",
    "http.user_agent",
))
_SYNTHETIC_TYPES = ("bot", "test")

# (kind, scope name, span name, attribute keys, values, their types) -> the span's encoded parts
# (_entry), or None for the general path. Apps repeat the same statements, URLs and routes, so
# most spans find their parts here; bounded in entries and in their size, since ids in URLs or
# statements make every span new and a statement may be long.
_ENTRIES: Dict[Any, Any] = {}
_ENTRIES_MAX = 512
_ENTRY_TEXT_MAX = 2048
# Value types whose equal values of one type always give the same text (keys compare by
# equality, 1 == 1.0 == True: the key holds each value's type too; see _cacheable).
_PLAIN = frozenset((str, int, float, bool))


def _properties_text(keys: Any, attrs: Any, marker: bool) -> str:
    """customDimensions, as span_fields.custom_properties and the marker make them."""
    out = []
    for key in keys:
        limit = _KEY_LIMITS.get(key)
        if limit is None:
            limit = _key_limit(key)
        value = attrs[key]
        if not limit or value is None:
            continue
        out.append(_enc(key) + ":" + _enc(value[:limit] if value.__class__ is str else str(value)[:limit]))
    if marker:
        out.append('"_MS.ProcessedByMetricExtractors":"True"')
    return ",".join(out)


def _tags_text(pairs: Any) -> str:
    return "".join("," + _enc(key) + ":" + _enc(value) for key, value in pairs)


def _entry(kind: Any, scope_name: Any, name: Any, attrs: Any) -> Any:
    """What a span's conversion gives that depends only on its kind, scope, name and
    attributes, encoded; None when the general path must convert it.

    (is a request, the tags after the ids as (key, value) pairs and as text, the baseData
    text up to the span id, from the span id to the duration, from the duration to the
    success, after the success, whether the code allows success)."""
    keys = tuple(attrs)
    if any(key.__class__ is not str for key in keys) or not _GENERAL_ONLY.isdisjoint(keys):
        return None
    has_method = "http.request.method" in attrs or "http.method" in attrs
    if kind is _SERVER and has_method:
        shape = _SERVER_HTTP
    elif kind is _CLIENT and has_method:
        shape = _CLIENT_HTTP
    elif kind is _CLIENT and ("db.system.name" in attrs or "db.system" in attrs):
        shape = _CLIENT_DB
    else:
        return None
    sample_rate = attrs.get("_MS.sampleRate")
    if sample_rate is None:
        closing = "}"
    else:
        rate = _number(sample_rate)
        if rate is None:
            return None
        closing = ',"sampleRate":%s}' % rate

    # The tags after the ids, in span_to_envelopes' order.
    tags = []
    if not _TAG_KEYS.isdisjoint(keys):
        user = attrs.get(AUTH_USER_ID)
        if user is not None:
            tags.append((TAG_AUTH_USER_ID, str(user)))
        user = attrs.get(USER_ID)
        if user is not None:
            tags.append((TAG_USER_ID, str(user)))
        session = attrs.get("session.id")
        if session.__class__ is str:
            tags.append(("ai.session.id", session))
        if attrs.get("user_agent.synthetic.type") in _SYNTHETIC_TYPES:
            tags.append(("ai.operation.syntheticSource", "True"))
        else:
            agent = attrs.get("user_agent.original") or attrs.get("http.user_agent")
            if agent and "AlwaysOn" in str(agent):
                tags.append(("ai.operation.syntheticSource", "True"))
    properties = _properties_text(keys, attrs, scope_name in _spans._METRIC_EXTRACTOR_SCOPES)  # noqa: SLF001

    if shape == _SERVER_HTTP:  # _request_envelope's HTTP branch
        url = safe_url(http_request_url(attrs))
        name = http_request_name(attrs, url, name)
        code = status_code(attrs)
        code_ok = code != 0 and not 400 <= code < 600
        agent = user_agent(attrs)
        tags.append(("ai.operation.name", name))
        ip = client_ip(attrs)
        if ip:
            tags.append(("ai.location.ip", ip))
        if agent:
            tags.append(("ai.user.userAgent", agent))
        return (
            True, tuple(tags), _tags_text(tags),
            '"data":{"baseData":{"ver":2,"name":%s,"id":"' % _enc(name[:MAX_NAME]),
            '","duration":"',
            '","responseCode":%s,"success":' % _enc(str(code)[:MAX_NAME]),
            ',"properties":{%s},"measurements":{}%s},"baseType":"RequestData"}%s' % (
                properties, ',"url":' + _enc(url[:MAX_URL]) if url else "", closing),
            code_ok, None,
        )
    # _dependency_envelope with _client_fields' HTTP or database branch
    if shape == _CLIENT_HTTP:
        url = safe_url(http_dependency_url(attrs))
        method = attrs.get("http.request.method") or attrs.get("http.method")
        name = operation_name_from_url(method, url) or name
        target = http_dependency_target(attrs, url)
        dep_type, data, result_code, agent = "HTTP", url, str(status_code(attrs)), user_agent(attrs)
    else:
        system = attrs.get("db.system.name") or attrs.get("db.system")
        dep_type = db_dependency_type(system)
        target = db_dependency_target(attrs, system)
        data = db_statement(attrs)
        result_code, agent = "0", None
    tags.append(("ai.operation.name", name))
    if agent:
        tags.append(("ai.user.userAgent", agent))
    tail = ',"type":' + _enc(dep_type[:MAX_NAME])
    if data:
        tail += ',"data":' + _enc(str(data)[:MAX_DATA])
    if target:
        tail += ',"target":' + _enc(target[:MAX_NAME])
    return (
        False, tuple(tags), _tags_text(tags),
        '"data":{"baseData":{"ver":2,"name":%s,"id":"' % _enc(name[:MAX_NAME]),
        '","resultCode":%s,"duration":"' % _enc(result_code[:MAX_NAME]),
        '","success":',
        ',"properties":{%s},"measurements":{}%s},"baseType":"RemoteDependencyData"}%s' % (
            properties, tail, closing),
        True,
        # The tags as the request's context leaves them when it has a name (it replaces the
        # dependency's): dependencies of different names in one request share their tags' text.
        tuple((key, None) if key == "ai.operation.name" else (key, value) for key, value in tags),
    )


def _cacheable(name: Any, classes: Tuple[type, ...], values: Any) -> bool:
    """Whether a key (which holds the values' types too) means one output: a ``str`` name, and
    values of plain types, except a float next to a zero (0.0 == -0.0, which print apart)."""
    return name.__class__ is str and _PLAIN.issuperset(classes) and (float not in classes or 0.0 not in values)


# (resource, role, ikey) -> (the resource's part-A tags, their JSON text, the envelope's
# opening up to the tags): a process has one of each, so the last one answers nearly always.
_LAST_PARTS: Any = (object(), object(), object(), None)


def _parts(resource: Any, role: Any, ikey: str) -> Any:
    global _LAST_PARTS
    last = _LAST_PARTS
    if last[0] is resource and last[1] is role and last[2] == ikey:
        return last[3]
    tags = resource_tags(resource, role)
    text = ",".join(_enc(key) + ":" + _enc(value) for key, value in tags.items())
    ikey_json = _enc(ikey)
    parts = (
        tags,
        '{"name":"Microsoft.ApplicationInsights.Request","iKey":%s,"tags":{%s' % (
            ikey_json, text + "," if text else ""),
        '{"name":"Microsoft.ApplicationInsights.RemoteDependency","iKey":%s,"tags":{%s' % (
            ikey_json, text + "," if text else ""),
        '{"name":"Microsoft.ApplicationInsights.RemoteDependency","iKey":%s,"tags":{' % ikey_json,
    )
    _LAST_PARTS = (resource, role, ikey, parts)
    return parts


# The last dependency's request tags: (its request context, what they were written from,
# the envelope's opening, the tags' text). Its next dependency, exported right after it as a
# rule, reuses them (an app that runs twenty queries per request writes them once). The
# context is held, so its identity cannot be reused while it is here.
_LAST_REQUEST_TAGS: Any = (None, None, None, None)


def request_tags_json(tags: Dict[str, Any], base: Dict[str, Any], opening: str, bare_opening: str) -> Tuple[str, str]:
    """(the envelope's opening, the JSON text of ``tags``) for an item the request context gave
    tags: when they hold a part-A key (an app's role replaces the process's), the whole tag
    set is written after ``bare_opening`` (no part-A tags) with the replaced values in place,
    as the general path's dict update orders them; else after ``opening``."""
    if not base.keys().isdisjoint(tags):
        whole = base.copy()
        whole.update(tags)
        opening, tags = bare_opening, whole
    return opening, ",".join(_enc(key) + ":" + _enc(value) for key, value in tags.items())


def _number(value: Any) -> Optional[str]:
    """A sample rate as ``json.dumps`` writes it, or None when only the general path knows."""
    cls = value.__class__
    if cls is float:
        return float.__repr__(value) if -_INF < value < _INF else None
    if cls is int:
        return int.__repr__(value)
    return None


def _has_any(raw: Any) -> bool:
    """Whether an SDK span's events or links (its BoundedList, or the tuple a ReadableSpan made
    without them holds) are not empty; True for anything else (the general path reads it)."""
    if raw.__class__ is BoundedList:
        return bool(raw._dq)  # noqa: SLF001 (read-only use of the SDK's storage)
    return raw.__class__ not in (tuple, list) or bool(raw)


def span_item(span: Any, ikey: str, request_lookup: Any = None, role: Any = None) -> Optional[bytes]:
    """The JSON bytes of the span's one envelope if it is one of the common shapes (see the
    module docstring) and has no events or links; None otherwise."""
    try:
        return _span_item(span, ikey, request_lookup, role)
    except Exception:  # an unexpected value: the general path converts it, or counts the drop
        return None


def _span_item(span: Any, ikey: str, request_lookup: Any, role: Any) -> Optional[bytes]:
    attrs = span_attributes(span)
    if not attrs or _has_any(getattr(span, "_events", None)) or _has_any(getattr(span, "_links", None)):
        return None
    kind = span.kind
    scope = span.instrumentation_scope
    scope_name = scope.name if scope is not None else None
    name = span.name
    values = attrs.values()
    classes = tuple(map(type, values))
    # Flat tuples: cheaper to hash than pairs; the kind by identity (an Enum hashes in Python code).
    key = (id(kind), scope_name, name, tuple(attrs), tuple(values), classes)
    entry = _ENTRIES.get(key, False)
    if entry is False:
        entry = _entry(kind, scope_name, name, attrs)
        if _cacheable(name, classes, values) and (
            entry is None or len(entry[2]) + len(entry[3]) + len(entry[6]) <= _ENTRY_TEXT_MAX
        ):
            if len(_ENTRIES) >= _ENTRIES_MAX:
                _ENTRIES.clear()
            _ENTRIES[key] = entry
    if entry is None:
        return None
    is_request, tag_pairs, tags_text, head, before_duration, after_duration, after_success, code_ok, unnamed = entry

    context = span.context
    trace_id = context.trace_id
    last = _spans._LAST_TRACE  # noqa: SLF001 (shared with the general path)
    if last[0] == trace_id:
        operation_id = last[1]
    else:
        operation_id = "%032x" % trace_id
        _spans._LAST_TRACE = (trace_id, operation_id)  # noqa: SLF001
    span_id = "%016x" % context.span_id
    parent = span.parent
    if parent is not None and parent.span_id:
        parent_id = "%016x" % parent.span_id
        ids = '"ai.operation.id":"%s","ai.operation.parentId":"%s"' % (operation_id, parent_id)
    else:
        parent_id = None
        ids = '"ai.operation.id":"%s"' % operation_id
    status = span.status
    success = code_ok and (status is None or status.status_code is not _ERROR)
    start, end = span.start_time, span.end_time
    duration = format_duration(end - start if start and end else 0)
    parts = _parts(span.resource, role, ikey)

    if is_request:
        opening = parts[1]
    else:
        opening = parts[2]
        request = request_lookup(context.span_id) if request_lookup is not None else None
        if request is not None:  # the request's name, client and user (span_to_envelopes)
            global _LAST_REQUEST_TAGS
            key = (operation_id, parent_id, parts, unnamed if request.operation_name else tag_pairs)
            last = _LAST_REQUEST_TAGS
            if last[0] is request and last[1] == key:
                opening, ids = last[2], last[3]
            else:
                tags = {"ai.operation.id": operation_id}
                if parent_id is not None:
                    tags["ai.operation.parentId"] = parent_id
                tags.update(tag_pairs)
                request.fill_tags(tags, replace_name=True)
                opening, ids = request_tags_json(tags, parts[0], opening, parts[3])
                if not request.live:  # an ended request's values no longer change
                    _LAST_REQUEST_TAGS = (request, key, opening, ids)
            tags_text = ""
    return ("%s%s%s},\"time\":\"%s\",%s%s%s%s%s%s%s" % (
        opening, ids, tags_text, format_time(start), head, span_id, before_duration, duration,
        after_duration, "true" if success else "false", after_success,
    )).encode("ascii")
