"""ai_core.sqlite3_instrumentation next to the stock instrumentor (the end-to-end proof that the
``conn.execute`` shortcut becomes a dependency is in test_dependencies_real.py)."""

from __future__ import annotations

import sqlite3
from typing import Iterator, Tuple

import pytest
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor as StockSQLite3Instrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ai_core.sqlite3_instrumentation import SQLite3Instrumentor


def _uninstrument_both() -> None:
    for instrumentor in (SQLite3Instrumentor(), StockSQLite3Instrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


@pytest.fixture
def traced() -> Iterator[Tuple[TracerProvider, InMemorySpanExporter]]:
    _uninstrument_both()  # an earlier in-process configure() may have instrumented sqlite3
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        _uninstrument_both()


def queries(exporter: InMemorySpanExporter) -> list:
    return [span.attributes["db.statement"] for span in exporter.get_finished_spans()]


def test_ours_is_not_the_stock_singleton() -> None:
    # BaseInstrumentor() returns one instance per class through an inherited class attribute:
    # without its own, ours would be the stock instrumentor whenever that was created first.
    stock = StockSQLite3Instrumentor()
    assert type(SQLite3Instrumentor()) is SQLite3Instrumentor
    assert SQLite3Instrumentor() is not stock


def test_shortcuts_and_cursors_give_the_same_spans(traced) -> None:
    provider, exporter = traced
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    conn = sqlite3.connect(":memory:")
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the cursor comes back, as from sqlite3
    conn.cursor().execute("SELECT 2")
    first, second = exporter.get_finished_spans()
    assert dict(first.attributes) == {"db.system": "sqlite", "db.statement": "SELECT 1"}
    assert dict(second.attributes) == {"db.system": "sqlite", "db.statement": "SELECT 2"}
    assert first.instrumentation_scope.name == second.instrumentation_scope.name


def test_an_app_that_instrumented_sqlite3_itself_gets_one_span_per_query(traced) -> None:
    provider, exporter = traced
    StockSQLite3Instrumentor().instrument(tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    sqlite3.connect(":memory:").cursor().execute("SELECT 1")
    assert queries(exporter) == ["SELECT 1"]
    SQLite3Instrumentor().uninstrument()  # leaves the app's own wrapper in place
    sqlite3.connect(":memory:").cursor().execute("SELECT 2")
    assert queries(exporter) == ["SELECT 1", "SELECT 2"]
