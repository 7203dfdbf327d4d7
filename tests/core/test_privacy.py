"""Secrets never reach Application Insights: URL credentials, secret query values, headers."""

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ai_core.envelopes.spans import span_to_envelopes
from ai_core.privacy import safe_url

IKEY = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://example.com/a?b=1", "https://example.com/a?b=1"),
        ("https://user:hunter2@example.com/a", "https://example.com/a"),
        ("https://store.blob.core.windows.net/c/b?sv=2020&sig=abc%2Fdef&se=1", "https://store.blob.core.windows.net/c/b?sv=2020&sig=REDACTED&se=1"),
        ("https://login.example/cb?code=xyz&state=s", "https://login.example/cb?code=REDACTED&state=s"),
        ("http://h/p?API_KEY=k&token=t", "http://h/p?API_KEY=REDACTED&token=REDACTED"),
    ],
)
def test_safe_url_strips_credentials_and_secret_query_values(url, expected):
    assert safe_url(url) == expected


def _envelope(kind, attributes):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", kind=kind, attributes=attributes):
        pass
    return span_to_envelopes(exporter.get_finished_spans()[0], IKEY)[0]


def test_dependency_url_credentials_and_headers_never_reach_the_envelope():
    env = _envelope(SpanKind.CLIENT, {
        "http.request.method": "GET",
        "url.full": "https://bob:s3cret@api.example.com/v1?token=abc&page=2",
        "server.address": "api.example.com",
        "http.request.header.authorization": ("Bearer abc.def",),
        "http.request.header.cookie": ("session=xyz",),
        "http.response.header.set-cookie": ("id=1",),
        "http.response.status_code": 200,
    })
    text = repr(env)
    for secret in ("s3cret", "bob:", "token=abc", "Bearer", "session=xyz", "id=1"):
        assert secret not in text
    assert env["data"]["baseData"]["data"] == "https://api.example.com/v1?token=REDACTED&page=2"


def test_request_url_secret_query_values_are_redacted():
    env = _envelope(SpanKind.SERVER, {
        "http.request.method": "GET", "url.scheme": "https", "server.address": "shop",
        "url.path": "/callback", "url.query": "code=abc123&state=ok", "http.route": "/callback",
        "http.response.status_code": 302,
    })
    assert env["data"]["baseData"]["url"] == "https://shop/callback?code=REDACTED&state=ok"


def test_the_instrumentation_key_never_appears_in_our_logs(tmp_path):
    from subprocess_helpers import run_python

    key = "1234abcd-5678-4321-9999-feedfacecafe"
    out = run_python(
        f"""
        import logging, ai_core
        from opentelemetry import trace
        logging.basicConfig(level=logging.DEBUG)
        tel = ai_core.configure(connection_string="InstrumentationKey={key};IngestionEndpoint=http://127.0.0.1:9",
                                storage_directory={str(tmp_path / "s")!r})
        with trace.get_tracer("t").start_as_current_span("work"):
            logging.getLogger("app").warning("something happened")
        tel.force_flush(20)
        print(repr(tel.options.connection_string))
        tel.shutdown()
        """
    )
    assert out.returncode == 0, out.stderr
    assert "not delivered" in out.stderr  # our delivery diagnostics did run and log
    assert key not in out.stderr
    assert key not in out.stdout
