"""Outbound instrumentations: what happens when one asked for is not available."""

from __future__ import annotations

import json
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


CS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"

def test_a_library_imported_after_configure_is_instrumented_when_it_is_imported() -> None:
    from subprocess_helpers import run_python

    out = run_python(
        f"""
        import json, sys
        import ai_core
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        spans = InMemorySpanExporter()
        ai_core.configure(connection_string={CS!r}, span_processors=[SimpleSpanProcessor(spans)])
        imported_by_configure = "requests" in sys.modules
        import http.server, threading
        class Hello(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            def log_message(self, *args):
                pass
        srv = http.server.HTTPServer(("127.0.0.1", 0), Hello)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d/hello" % srv.server_address[1]
        import requests
        assert requests.get(url, timeout=30).text == "ok"
        print(json.dumps({{"imported_by_configure": imported_by_configure,
                          "spans": [[s.name, s.kind.name, s.attributes.get("http.url") or s.attributes.get("url.full")]
                                    for s in spans.get_finished_spans()]}}))
        """
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["imported_by_configure"] is False  # start-up does not pay for requests
    clients = [s for s in result["spans"] if s[1] == "CLIENT" and s[2] and s[2].endswith("/hello")]
    assert clients and clients[0][0] == "GET", result


def test_after_shutdown_a_later_import_is_not_instrumented() -> None:
    from subprocess_helpers import run_python

    out = run_python(
        f"""
        import sys
        import ai_core
        tel = ai_core.configure(connection_string={CS!r})
        assert "httpx" not in sys.modules
        tel.shutdown()
        import httpx
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        print(HTTPXClientInstrumentor().is_instrumented_by_opentelemetry)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-1] == "False"
