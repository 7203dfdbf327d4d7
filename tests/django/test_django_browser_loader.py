"""BROWSER_SDK_LOADER: HTML pages load the JavaScript SDK (once), JSON and streamed bodies are
untouched, and it is off unless asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from django_site import SITE, migrate, site_env

FETCH = """
import django, json
django.setup()
from django.test import Client
c = Client()
out = {}
for path in ("/page/", "/orders/", "/stream/"):
    r = c.get(path)
    body = b"".join(r.streaming_content) if r.streaming else r.content
    out[path] = [body.decode(), r.get("Content-Length")]
print(json.dumps(out))
"""


def _fetch(tmp_path: Path, **setting) -> dict:
    env = site_env(tmp_path / "site.db", None, tmp_path / "storage", **setting)
    env["TESTSITE_CONNECTION_STRING"] = "InstrumentationKey=11111111-2222-3333-4444-555555555555;IngestionEndpoint=http://127.0.0.1:9"
    migrate(env)
    out = subprocess.run([sys.executable, "-c", FETCH], cwd=SITE, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_html_pages_get_the_loader_once_and_nothing_else_changes(tmp_path: Path) -> None:
    pages = _fetch(tmp_path, BROWSER_SDK_LOADER=True)
    html, length = pages["/page/"]
    assert html.count("<script data-ai-loader>") == 1
    assert html.index("data-ai-loader") < html.index("</head>")
    assert "InstrumentationKey=11111111-2222-3333-4444-555555555555" in html
    assert length == str(len(html.encode()))
    assert "data-ai-loader" not in pages["/orders/"][0]  # JSON
    assert "data-ai-loader" not in pages["/stream/"][0]


def test_off_by_default(tmp_path: Path) -> None:
    assert "data-ai-loader" not in _fetch(tmp_path)["/page/"][0]


@pytest.mark.parametrize("html", [
    b"<html><head><script src='https://js.monitor.azure.com/scripts/b/ai.3.gbl.min.js'></script></head></html>",
    b"<p>a fragment without a head</p>",
])
def test_pages_that_cannot_or_need_not_take_it_are_left_alone(html: bytes) -> None:
    from ai_core.web.browser import inject_loader, loader_snippet

    assert inject_loader(html, loader_snippet("k", "http://x")) is None


def test_the_snippet_cannot_be_broken_out_of() -> None:
    from ai_core.web.browser import loader_snippet

    snippet = loader_snippet("k", "http://x/</script><script>alert(1)//")
    assert snippet.count(b"</script>") == 1 and b"alert(1)" in snippet
