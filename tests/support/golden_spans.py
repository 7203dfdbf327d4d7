"""Rebuild the spans of the golden corpus (tests/support/golden/traces.jsonl) as real SDK spans.

Each case's ``input`` describes an OpenTelemetry span in OTLP terms. We recreate it the way
the corpus was made: a ``TracerProvider`` with a fixed-id generator, explicit start/end/event
times, the exact resource and instrumentation scope, and a parent ``SpanContext`` (remote or
local) when the case has one. The result is an ended ``opentelemetry.sdk.trace.Span``, i.e. a
``ReadableSpan`` with the SDK's own ``BoundedAttributes``, exactly what an exporter receives.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from golden_support import hex_int, make_resource, make_scope, typed_attributes


class FixedIds(IdGenerator):
    """Hands out the case's own trace and span ids."""

    def __init__(self, trace_id: int, span_id: int) -> None:
        self._trace_id = trace_id
        self._span_id = span_id

    def generate_trace_id(self) -> int:
        return self._trace_id

    def generate_span_id(self) -> int:
        return self._span_id


def _parent_context(spec: Mapping[str, Any], trace_id: int) -> Context:
    """An explicit context: the case's parent if it has one, else none (a root span)."""
    parent_id = hex_int(spec.get("parent_span_id"))
    if parent_id is None:
        return Context()
    parent = SpanContext(
        trace_id,
        parent_id,
        is_remote=bool(spec.get("parent_is_remote")),
        trace_flags=TraceFlags(spec.get("trace_flags") or 0),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())


def _links(spec: Mapping[str, Any]) -> list:
    return [
        Link(
            SpanContext(int(link["trace_id"], 16), int(link["span_id"], 16), is_remote=True),
            typed_attributes(link.get("attributes"), link.get("attribute_types")),
        )
        for link in spec.get("links") or ()
    ]


def build_span(spec: Mapping[str, Any]) -> ReadableSpan:
    """The ended SDK span described by a golden case's ``input``.

    The ``sampler`` of a case only matters through the ``_MS.sampleRate`` attribute it added
    when the corpus was made, and that attribute is part of the recorded ``attributes``; so
    every span here is simply sampled (ALWAYS_ON) with the recorded attributes.
    """
    trace_id = int(spec["trace_id"], 16)
    provider = TracerProvider(
        sampler=ALWAYS_ON,
        resource=make_resource(spec.get("resource")),
        id_generator=FixedIds(trace_id, int(spec["span_id"], 16)),
    )
    scope = make_scope(spec.get("instrumentation_scope"))
    tracer = provider.get_tracer(
        scope.name if scope else "", scope.version if scope else None, scope.schema_url if scope else None
    )
    span = tracer.start_span(
        spec["name"],
        context=_parent_context(spec, trace_id),
        kind=SpanKind[spec["kind"]],
        attributes=typed_attributes(spec.get("attributes"), spec.get("attribute_types")),
        links=_links(spec),
        start_time=spec["start_time_unix_nano"],
    )
    for event in spec.get("events") or ():
        span.add_event(
            event["name"],
            typed_attributes(event.get("attributes"), event.get("attribute_types")),
            timestamp=event["time_unix_nano"],
        )
    status: Optional[Dict[str, Any]] = spec.get("status")
    if status and status.get("code") and status["code"] != "UNSET":
        span.set_status(Status(StatusCode[status["code"]], status.get("description")))
    span.end(end_time=spec["end_time_unix_nano"])
    return span
