"""The logging bridge: what reaches the log exporter, and that it never breaks the app's logging."""

from __future__ import annotations

import logging
from typing import Any, Iterator, List

import pytest
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk._logs import LoggerProvider

from ai_core.diagnostics import DROPS
from ai_core.log_export import ApplicationInsightsLogHandler


class _Collect:
    def __init__(self) -> None:
        self.records: List[Any] = []

    def on_emit(self, record: Any) -> None:
        self.records.append(record)

    emit = on_emit

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Raising(_Collect):
    def on_emit(self, record: Any) -> None:
        raise RuntimeError("processor bug")

    emit = on_emit


@pytest.fixture()
def handler_on_app_logger() -> Iterator[tuple]:
    provider = LoggerProvider(shutdown_on_exit=False)
    collected = _Collect()
    provider.add_log_record_processor(collected)
    # A logger outside logging's registry: pytest attaches its own capture handlers (which
    # raise on a bad record themselves) to every registered logger.
    app_logger = logging.Logger("app_under_test", logging.INFO)
    app_logger.addHandler(ApplicationInsightsLogHandler(logging.INFO, provider))
    yield provider, collected, app_logger


def test_badly_formatted_log_call_does_not_raise_into_the_app(handler_on_app_logger: tuple) -> None:
    _, _, app_logger = handler_on_app_logger
    before = DROPS.totals().get("log records could not be recorded", 0)
    app_logger.warning("two placeholders %s %s, one argument", 1)  # must not raise
    assert DROPS.totals().get("log records could not be recorded", 0) == before + 1


def test_failing_log_record_processor_does_not_raise_into_the_app(handler_on_app_logger: tuple) -> None:
    provider, collected, app_logger = handler_on_app_logger
    provider.add_log_record_processor(_Raising())
    app_logger.warning("still fine")  # must not raise
    assert [r.log_record.body for r in collected.records] == ["still fine"]


def test_records_logged_by_the_export_path_are_not_exported(handler_on_app_logger: tuple) -> None:
    # e.g. azure-identity warns on the export thread that it could not get a token.
    _, collected, app_logger = handler_on_app_logger
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        app_logger.warning("logged while exporting")
    finally:
        detach(token)
    app_logger.warning("logged by the app")
    assert [r.log_record.body for r in collected.records] == ["logged by the app"]


def test_our_own_loggers_are_not_exported(handler_on_app_logger: tuple) -> None:
    provider, collected, _ = handler_on_app_logger
    handler = ApplicationInsightsLogHandler(logging.INFO, provider)
    for name in ("ai_core", "ai_core.exporters", "opentelemetry.sdk"):
        handler.handle(logging.LogRecord(name, logging.WARNING, __file__, 1, "ours", None, None))
    handler.handle(logging.LogRecord("ai_core_app", logging.WARNING, __file__, 1, "theirs", None, None))
    assert [r.log_record.body for r in collected.records] == ["theirs"]
