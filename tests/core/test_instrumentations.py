"""Outbound instrumentations: what happens when one asked for is not available."""

from __future__ import annotations

import logging

import pytest

from ai_core import instrumentations


def test_missing_instrumentation_of_a_stdlib_module_does_not_suggest_installing_the_stdlib(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = instrumentations._installed
    monkeypatch.setattr(
        instrumentations, "_installed", lambda module: False if module.startswith("opentelemetry.") else real(module)
    )
    with caplog.at_level(logging.WARNING, logger="ai_core"):
        assert instrumentations.enable_instrumentations(["urllib", "sqlite3"], None, None) == []
    messages = [r.getMessage() for r in caplog.records]
    assert any("pip install opentelemetry-instrumentation-urllib)" in m for m in messages), messages
    assert any("pip install opentelemetry-instrumentation-sqlite3)" in m for m in messages), messages
    assert not any("pip install urllib " in m or "pip install sqlite3 " in m for m in messages), messages


def test_missing_library_and_instrumentation_are_both_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(instrumentations, "_installed", lambda module: False)
    with caplog.at_level(logging.WARNING, logger="ai_core"):
        instrumentations.enable_instrumentations(["httpx"], None, None)
    assert "pip install httpx opentelemetry-instrumentation-httpx)" in caplog.text
