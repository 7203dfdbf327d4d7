"""Fixtures of the viewer tests: Debian's Chromium driven by Playwright, and an emulator seeded
once with real telemetry (``viewer_data.seed``) that no test changes: a test that adds or clears
items starts its own emulator, so the tests pass in any order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from ai_core.emulator import Emulator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15000  # generous: the machine is shared and busy
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def _needs_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed at %s (apt-get install chromium)" % CHROMIUM)


@pytest.fixture(scope="session")
def seeded() -> Iterator[Dict[str, Any]]:
    """An emulator holding the two roles' telemetry and one rejected item. Read only."""
    import viewer_data

    with Emulator(port=0, db=":memory:") as emu:
        viewer_data.seed(emu.connection_string)
        reply = viewer_data.post_invalid(emu.url)
        assert reply["itemsAccepted"] == 1 and len(reply["errors"]) == 1, reply
        emu.wait_for_items(count=7, timeout=10, type="request")
        yield {"emu": emu, "url": emu.url}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test (no filters or pause state carried over)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield pg
    finally:
        context.close()
    assert not errors, "JavaScript errors in the viewer: %s" % errors


@pytest.fixture()
def screenshot() -> Any:
    """``screenshot(page, name)`` keeps a full-page screenshot as test-output/viewer-<name>.png."""
    def take(page: Any, name: str) -> None:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / ("viewer-%s.png" % name)), full_page=True)
    return take
