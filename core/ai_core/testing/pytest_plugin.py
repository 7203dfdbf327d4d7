"""The package's pytest plugin (entry point ``ai_core``): the ``ai_telemetry`` fixture, and
capture-only pipelines for the whole test run (see :mod:`ai_core.testing` for why).

Loaded by pytest from the ``pytest11`` entry point, so a test uses ``ai_telemetry`` with no
import; ``pytest -p no:ai_core`` switches it off.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from ai_core.testing import CapturedTelemetry, capture_only, capture_telemetry


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: Any) -> None:
    # Before pytest-django's django.setup() (same hook) and before any conftest builds an app.
    capture_only()


def pytest_configure(config: Any) -> None:
    capture_only()  # when the plugin is loaded after the initial conftests (``-p`` in a conftest)


def pytest_report_header(config: Any) -> str:
    return "appinsights-otel: telemetry is captured in memory, never sent (ai_telemetry fixture; -p no:ai_core to send)"


@pytest.fixture
def ai_telemetry() -> Iterator[CapturedTelemetry]:
    """The telemetry this test records, as envelopes (``ai_telemetry.requests[0].name``...).

    See :mod:`ai_core.testing`.
    """
    with capture_telemetry() as captured:
        yield captured
