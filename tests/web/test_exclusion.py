"""Excluded requests send nothing at all, children included, whichever way the adapter
decides: by route names it matched (Flask, FastAPI) or by a resolver the sampler asks (Django)."""

import re

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ai_core.sampler import ApplicationInsightsSampler
from ai_core.exclusion import Exclusion, excluded_request, is_excluded_context


@pytest.fixture()
def tracing():
    exclusion = Exclusion([re.compile(r"^/health$")], ["shop.status", "/items/{id}/raw"])
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False,
                              sampler=ApplicationInsightsSampler(1.0, exclude=exclusion.excludes_span_start))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("tests"), exporter, exclusion
    provider.shutdown()


def _serve(tracer, path, key="url.path"):
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER,
                                      attributes={"http.request.method": "GET", key: path}):
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT):
            pass


@pytest.mark.parametrize(
    "path, names, excluded",
    [
        ("/health", (), True),
        ("/health/deep", (), False),  # a regex searched in the path: anchored here
        ("/orders", ("health",), False),  # a route *name* only counts if listed
        ("/status", ("shop.status",), True),  # a Flask blueprint endpoint
        ("/items/7/raw", ("/items/{id}/raw",), True),  # a FastAPI path template
        ("/items/{id}/raw", (), True),  # the template given as path
        (None, (), False),
    ],
)
def test_excludes_by_path_and_matched_route_names(tracing, path, names, excluded):
    _, _, exclusion = tracing
    assert exclusion.excludes(path, names) is excluded


def test_an_excluded_request_and_its_children_send_nothing(tracing):
    tracer, exporter, exclusion = tracing
    assert exclusion.excludes("/status", ["shop.status"])
    with excluded_request():
        assert is_excluded_context()
        _serve(tracer, "/status")
    assert not is_excluded_context()
    _serve(tracer, "/orders")
    assert sorted(s.attributes.get("url.path", s.name) for s in exporter.get_finished_spans()) == ["/orders", "SELECT"]


def test_two_apps_in_one_process_exclude_by_their_own_route_tables(tracing):
    """App A calls its status endpoint 'status'; app B has an unrelated 'status' page it
    wants. Each adapter asks with the names its own app matched."""
    tracer, exporter, _ = tracing
    app_a = Exclusion((), ["status"])
    app_b = Exclusion((), ["metrics"])
    for exclusion, path, names in ((app_a, "/status", ["status"]), (app_b, "/status", ["status"])):
        if exclusion.excludes(path, names):
            with excluded_request():
                _serve(tracer, path)
        else:
            _serve(tracer, path)
    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == 1  # only app B's request was kept


def test_the_query_string_never_decides(tracing):
    tracer, exporter, _ = tracing
    _serve(tracer, "/health?verbose=1", key="http.target")  # the path is /health: excluded
    _serve(tracer, "/orders?next=/health", key="http.target")  # a client cannot opt itself out
    targets = [s.attributes["http.target"] for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert targets == ["/orders?next=/health"]
