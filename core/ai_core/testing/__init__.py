"""Telemetry assertions in your own tests: the envelopes your app would send, captured in memory.

::

    from ai_core.testing import capture_telemetry

    with capture_telemetry() as t:
        client.get("/items/7")              # Django's Client, Flask's test client, FastAPI's TestClient
    assert t.requests[0]["data"]["baseData"]["name"] == "GET /items/{id}"
    assert t.requests[0].name == "GET /items/{id}"   # the same field, shorter

Under pytest you need no import: the package's pytest plugin offers the ``ai_telemetry``
fixture, a ``capture_telemetry()`` around the whole test.

What a capture holds: :attr:`~CapturedTelemetry.requests`, ``dependencies``, ``exceptions``,
``events``, ``traces`` (log lines) and ``metrics``, each a list of envelopes, the dicts our exporter would
post to Application Insights, after your ``telemetry_processors`` (:class:`TelemetryItem`
adds shortcuts: ``.name``, ``.result_code``, ``.success``, ``.operation_id``,
``.auth_user_id``, ``.role``, ``.properties``...). Only what the ``with`` block recorded is in
it: requests that started before it or after it are not, whichever test made them.

How it stays fast, offline and private, and why this way:

* **No thread, no network, no disk.** While a capture is active, the pipeline's hand-off gives
  what ends to the capture instead of the export queue, and the capture converts it when the
  test reads it. So a capture never sends, never touches offline storage, and costs
  milliseconds. This holds whatever pipeline the app built.
* **Capture-only pipelines under pytest.** Test settings often have no connection string
  (telemetry off: the adapters would build nothing to capture from) or a real one (and a
  test run must not send to production). So the pytest plugin calls :func:`capture_only` when
  pytest starts, before pytest-django sets Django up: from then on ``configure()`` builds a
  capture-only pipeline, with or without a connection string. It has no sender, no export
  thread and no offline storage; items recorded outside a capture are not kept. The
  connection string is still validated (a malformed one fails as in production), and when
  there is one, envelopes carry its instrumentation key. ``enabled=False`` still switches
  telemetry off (and a capture then says so instead of looking empty). To send for real from
  a pytest run, disable the plugin: ``pytest -p no:ai_core``.
* Outside pytest (Django's ``manage.py test``, unittest), call :func:`capture_only` before the
  app is set up, e.g. at the top of your test settings module.

The one thing the capture cannot do for you: see a request in another process. Capture in the
process that serves the request (the frameworks' test clients do; ``runserver`` or a uvicorn
subprocess do not).
"""

from __future__ import annotations

from ai_core.delivery.handoff import request_capture_only
from ai_core.testing.capture import CapturedTelemetry
from ai_core.testing.items import TelemetryItem

__all__ = ["CapturedTelemetry", "TelemetryItem", "capture_only", "capture_telemetry"]


def capture_telemetry() -> CapturedTelemetry:
    """Capture the telemetry recorded inside a ``with`` block instead of sending it.

    Returns a context manager whose value is the :class:`CapturedTelemetry`; read it during or
    after the block. One capture at a time (they do not nest). Reading a capture that holds
    nothing raises ``RuntimeError`` when nothing *could* be recorded (telemetry off, app not
    set up), so a test that expects no items cannot pass by accident.
    """
    return CapturedTelemetry()


def capture_only() -> None:
    """From now on, ``configure()`` (and so every adapter) builds a capture-only pipeline:
    no sender, no export thread, no offline storage, with or without a connection string.

    The pytest plugin calls it when pytest starts. Call it yourself before your app is set up
    when your tests run without pytest. It does not change a pipeline built before the call.
    """
    request_capture_only(True)
