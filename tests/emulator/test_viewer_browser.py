"""The emulator's web viewer in a real headless Chromium (Debian's, driven by Playwright).

Telemetry is real: ``viewer_data.seed()`` (the session's ``seeded`` emulator, see conftest.py) runs a *frontend* and a *backend* process configured
with ``ai_core.configure()``; the frontend's requests call the backend over HTTP, so there are
two roles, an edge between them and distributed transactions. Screenshots of the transaction
view and the map go to ``test-output/`` at the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from ai_core.emulator import Emulator  # noqa: E402
from emulator_fixtures import post_track  # noqa: E402
import viewer_data  # noqa: E402

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


def rows(page: Page):
    return page.get_by_test_id("items-table").get_by_test_id("item-row")


def test_lists_show_what_was_ingested(seeded, page: Page) -> None:
    page.goto(seeded["url"] + "/")
    expect(page.get_by_test_id("list-requests")).to_be_visible()
    for name in viewer_data.FRONTEND_REQUESTS + viewer_data.BACKEND_REQUESTS:
        expect(rows(page).filter(has_text=name).first).to_be_visible()
    expect(rows(page)).to_have_count(7)
    # Newest first: the frontend's last request (POST /login) tops the list.
    expect(rows(page).first).to_contain_text("POST /login")
    failed = rows(page).filter(has_text="GET /checkout")
    expect(failed).to_contain_text("500")
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("frontend")

    expect(page.get_by_test_id("connection-string")).to_have_text(seeded["emu"].connection_string)
    expect(page.get_by_test_id("stat-rejected")).to_contain_text("1")

    # Filters: role, success, free text (each reloads from the API and lands in the URL).
    page.get_by_test_id("filter-role").select_option("backend")
    expect(rows(page)).to_have_count(3)
    expect(page).to_have_url(re.compile(r"#/requests\?role=backend"))
    page.get_by_test_id("filter-success").select_option("false")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("POST /api/pay")
    page.get_by_test_id("filter-role").select_option("")
    page.get_by_test_id("filter-success").select_option("")
    page.get_by_test_id("filter-text").fill("slow-report")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("GET /slow-report")
    page.get_by_test_id("filter-text").fill("")
    page.get_by_test_id("filter-window").select_option("5m")
    expect(rows(page)).to_have_count(7)

    # The other lists, with their own columns.
    page.get_by_test_id("nav-dependencies").click()
    deps = page.get_by_test_id("list-dependencies")
    expect(deps.get_by_test_id("item-row")).to_have_count(6)
    expect(deps.get_by_test_id("item-row").filter(has_text="GET /api/cart").first).to_contain_text("HTTP")
    expect(deps.get_by_test_id("item-row").filter(has_text="sqlite").first).to_contain_text("SQL")
    page.get_by_test_id("nav-exceptions").click()
    expect(page.get_by_test_id("list-exceptions").get_by_test_id("item-row").filter(has_text="RuntimeError")).to_contain_text("backend")
    page.get_by_test_id("nav-traces").click()
    expect(page.get_by_test_id("list-traces").get_by_test_id("item-row").filter(has_text="payment service answered 502")).to_contain_text("Warning")
    page.get_by_test_id("nav-events").click()
    expect(page.get_by_test_id("list-events").get_by_test_id("item-row").filter(has_text="UserLoggedIn")).to_contain_text("method=password")
    page.get_by_test_id("nav-metrics").click()
    metric = page.get_by_test_id("list-metrics").get_by_test_id("item-row").filter(has_text="orders_placed")
    expect(metric).to_contain_text("3")
    # A metric has no operation: its row opens the details drawer with the envelope.
    metric.click()
    expect(page.get_by_test_id("envelope-json")).to_contain_text('"orders_placed"')
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("item-details")).to_have_count(0)


def test_clicking_a_request_opens_its_transaction(seeded, page: Page) -> None:
    emu = seeded["emu"]
    checkout = next(i for i in emu.items(type="request") if i["name"] == "GET /checkout")
    op_id = checkout["operation_id"]

    page.goto(seeded["url"] + "/#/requests")
    rows(page).filter(has_text="GET /checkout").click()
    view = page.get_by_test_id("transaction-view")
    expect(view).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/operation/%s\?item=%d$" % (op_id, checkout["id"])))
    expect(page.get_by_test_id("transaction-title")).to_have_text("GET /checkout")

    spans = view.get_by_test_id("span-row")
    root = spans.filter(has_text="GET /checkout")
    expect(root).to_have_attribute("data-depth", "0")
    expect(root).to_have_attribute("data-type", "request")
    # Its dependencies, one level down, and the backend's requests under the calls that made them.
    dep = spans.filter(has_text="GET /api/cart").and_(page.locator("[data-type=dependency]"))
    expect(dep).to_have_attribute("data-depth", "1")
    expect(dep).to_contain_text("frontend")
    backend_req = spans.filter(has_text="GET /api/cart").and_(page.locator("[data-type=request]"))
    expect(backend_req).to_have_attribute("data-depth", "2")
    expect(backend_req).to_contain_text("backend")
    assert backend_req.get_attribute("data-parent-id") == dep.get_attribute("data-telemetry-id")
    expect(spans.filter(has_text="POST /api/pay").and_(page.locator("[data-type=dependency]"))).to_contain_text("502")
    expect(spans.filter(has_text="SELECT")).to_have_attribute("data-depth", "3")

    # Logs and exceptions sit under the span they were recorded in.
    items = view.get_by_test_id("op-item-row")
    runtime = items.filter(has_text="RuntimeError")
    expect(runtime).to_have_attribute("data-depth", "3")
    pay_request = spans.filter(has_text="POST /api/pay").and_(page.locator("[data-type=request]"))
    assert runtime.get_attribute("data-parent-id") == pay_request.get_attribute("data-telemetry-id")
    expect(items.filter(has_text="checkout started for user 42")).to_have_attribute("data-depth", "1")
    expect(items.filter(has_text="cart loaded with 2 lines")).to_have_attribute("data-depth", "3")

    # Rows in time order under their parent; bars positioned by start time and duration.
    order = view.locator("tbody tr[data-item-id]").evaluate_all("rs => rs.map(r => r.dataset.itemId)")
    assert order[0] == str(checkout["id"])
    bar = root.locator(".bar")
    assert bar.evaluate("b => b.style.left") == "0%"

    # Clicking an item shows its whole envelope.
    dep.click()
    details = page.get_by_test_id("item-details")
    expect(details).to_contain_text("Dependency")
    envelope = page.get_by_test_id("envelope-json")
    expect(envelope).to_contain_text("Microsoft.ApplicationInsights.RemoteDependency")
    expect(envelope).to_contain_text(dep.get_attribute("data-telemetry-id") or "?")
    expect(page.get_by_test_id("details-tags")).to_contain_text("ai.operation.id")
    expect(page).to_have_url(re.compile(r"item=%s$" % dep.get_attribute("data-item-id")))

    OUTPUT.mkdir(exist_ok=True)
    page.get_by_test_id("timeline").get_by_test_id("span-row").first.click()
    page.screenshot(path=str(OUTPUT / "viewer-transaction.png"), full_page=True)

    # The URL is a link: opening it directly shows the same operation.
    page.goto(seeded["url"] + "/#/operation/" + op_id)
    expect(page.get_by_test_id("timeline").get_by_test_id("span-row")).to_have_count(6)


def test_map_shows_two_roles_and_the_edge_between_them(seeded, page: Page) -> None:
    page.goto(seeded["url"] + "/#/map")
    svg = page.get_by_test_id("app-map")
    expect(svg).to_be_visible()
    frontend = svg.locator("[data-node-id='role:frontend']")
    backend = svg.locator("[data-node-id='role:backend']")
    expect(frontend).to_contain_text("frontend")
    expect(frontend).to_contain_text("4")  # requests
    expect(backend).to_contain_text("backend")
    expect(backend.get_by_test_id("map-node-failures")).to_contain_text("1 failed")
    expect(svg.locator("[data-kind=role]")).to_have_count(2)
    expect(svg.locator("[data-node-id='external:sqlite']")).to_be_visible()
    edge = svg.locator("[data-testid=map-edge][data-source='role:frontend'][data-target='role:backend']")
    expect(edge).to_have_count(1)
    row = page.locator("[data-testid=map-edge-row][data-source='role:frontend'][data-target='role:backend']")
    expect(row).to_contain_text("3")      # calls
    expect(row).to_contain_text("33%")    # one of three failed (POST /api/pay)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "viewer-map.png"), full_page=True)
    # A role node leads to that role's requests.
    backend.click()
    expect(page).to_have_url(re.compile(r"#/requests\?role=backend"))
    expect(rows(page)).to_have_count(3)


def test_rejected_page_shows_the_reason(seeded, page: Page) -> None:
    page.goto(seeded["url"] + "/")
    page.get_by_test_id("nav-rejected").click()
    card = page.get_by_test_id("rejected-row")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("rejected-message")).to_have_text(
        viewer_data.INVALID_MESSAGE_FIELD + ": required field is missing")
    expect(card).to_contain_text("400")
    card.locator("summary").click()
    expect(card.get_by_test_id("rejected-raw")).to_contain_text('"GET /hand-made"')


def test_live_updates_pause_and_clear(page: Page) -> None:
    with Emulator(port=0, db=":memory:") as emu:  # its own: this test adds and clears items
        live_pause_clear(emu, page)


def live_pause_clear(emu: Emulator, page: Page) -> None:
    url = emu.url
    post_track(url, [viewer_data.request_envelope("GET /first")])
    page.goto(url + "/#/requests")
    expect(rows(page)).to_have_count(1)
    post_track(url, [viewer_data.request_envelope("GET /live-one")])
    expect(rows(page).first).to_contain_text("GET /live-one", timeout=5000)  # polled, no reload

    page.get_by_test_id("pause-toggle").click()
    expect(page.get_by_test_id("pause-toggle")).to_have_attribute("aria-pressed", "true")
    post_track(url, [viewer_data.request_envelope("GET /live-two")])
    page.wait_for_timeout(2600)
    expect(rows(page).filter(has_text="GET /live-two")).to_have_count(0)
    page.get_by_test_id("pause-toggle").click()
    expect(rows(page).first).to_contain_text("GET /live-two", timeout=5000)

    # Clear asks for a second click, then empties the store and the view.
    page.get_by_test_id("clear-items").click()
    expect(page.get_by_test_id("clear-items")).to_have_text("Really clear?")
    page.get_by_test_id("clear-items").click()
    expect(page.get_by_test_id("empty-state")).to_contain_text("No requests yet")
    expect(page.get_by_test_id("stat-stored").locator(".stat-value")).to_have_text("0")
    assert emu.stats()["stored"]["items"] == 0
