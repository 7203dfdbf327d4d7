"""The viewer's Performance, Failures and Metric charts views and the rough edges a first user
met (per-list filters, narrow windows, the loading shell, failed calls without a result code,
long exception types), in Debian's headless Chromium against real telemetry.

The ``seeded`` emulator (conftest.py) is shared and never changed; tests that add items start
their own. Every view's screenshot is kept in test-output/ (viewer-<view>.png).
"""

from __future__ import annotations

import math
import os
import re
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

import overview_data as od  # noqa: E402
import viewer_data  # noqa: E402
from ai_core.emulator import Emulator  # noqa: E402
from emulator_fixtures import post_track  # noqa: E402

VIEWS = ["performance", "performance?type=dependency", "failures", "failures?type=dependency", "charts",
         "requests", "dependencies", "exceptions", "traces", "events", "metrics", "map", "rejected", "live"]


def nearest_rank(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(p * len(ordered), 9))) - 1]


def points(chart: Any) -> List[float]:
    return [float(v) for v in chart.get_by_test_id("chart-point").evaluate_all("ps => ps.map(p => p.dataset.value)")]


def test_performance_numbers_and_chart_match_the_requests(seeded: Dict[str, Any], page: Page, screenshot: Any) -> None:
    emu = seeded["emu"]
    requests = emu.items(type="request")
    by_op: Dict[Any, List[float]] = {}
    for r in requests:
        by_op.setdefault((r["role"], r["name"]), []).append(r["duration_ms"])

    page.goto(seeded["url"] + "/#/performance")
    table = page.get_by_test_id("operations-table")
    rows = table.get_by_test_id("operation-row")
    expect(rows).to_have_count(len(by_op))
    for (role, name), durations in by_op.items():
        row = table.locator("[data-testid=operation-row][data-role='%s'][data-name='%s']" % (role, name))
        expect(row).to_have_attribute("data-items", str(len(durations)))
        assert float(row.get_attribute("data-p95")) == nearest_rank(durations, .95)
        assert float(row.get_attribute("data-p50")) == nearest_rank(durations, .5)
    # The count chart adds up to the requests it was drawn from.
    count_chart = page.get_by_test_id("count-chart")
    expect(count_chart.get_by_test_id("chart-point").first).to_be_visible()
    assert sum(points(count_chart)) == len(requests)
    expect(page.get_by_test_id("duration-chart").get_by_test_id("chart-series")).to_have_count(2)
    screenshot(page, "performance")
    # A later poll (the live clock moves on) leaves the table as it was.
    live = page.get_by_test_id("live-status")
    expect(live).to_contain_text("Live ·")
    expect(live).not_to_have_text(live.inner_text(), timeout=15000)
    expect(rows.filter(has_text="GET /slow-report")).to_have_count(1)

    # An operation -> its requests -> one of them opens its transaction.
    rows.filter(has_text="GET /slow-report").click()
    expect(page).to_have_url(re.compile(r"name=GET\+%2Fslow-report"))
    expect(page.get_by_test_id("count-chart").get_by_test_id("chart-point")).to_have_count(1)
    assert sum(points(page.get_by_test_id("count-chart"))) == 1
    drill = page.get_by_test_id("drill-row")
    expect(drill).to_have_count(1)
    drill.click()
    expect(page.get_by_test_id("transaction-title")).to_have_text("GET /slow-report")

    # Dependencies: per target and name.
    page.goto(seeded["url"] + "/#/performance?type=dependency")
    deps = emu.items(type="dependency")
    dep_rows = page.get_by_test_id("operation-row")
    expect(dep_rows).to_have_count(len({(d["role"], d["target"], d["name"]) for d in deps}))
    expect(dep_rows.filter(has_text="sqlite").first).to_contain_text("SQL")
    screenshot(page, "performance-dependencies")


def test_failures_view_counts_rates_exceptions_and_codes(seeded: Dict[str, Any], page: Page, screenshot: Any) -> None:
    emu = seeded["emu"]
    failed = emu.items(type="request", success=False)
    page.goto(seeded["url"] + "/#/failures")
    rows = page.get_by_test_id("operation-row")
    expect(rows).to_have_count(len({(r["role"], r["name"]) for r in failed}))
    expect(rows.filter(has_text="POST /api/pay")).to_contain_text("100%")
    chart = page.get_by_test_id("failed-chart")
    expect(chart.get_by_test_id("chart-point").first).to_be_visible()
    assert sum(points(chart)) == len(failed)
    # Exception types of the failed operations, counted from the items themselves.
    failed_ops = {r["operation_id"] for r in failed}
    types: Dict[str, int] = {}
    for e in emu.items(type="exception"):
        if e["operation_id"] in failed_ops:
            t = e["envelope"]["data"]["baseData"]["exceptions"][0]["typeName"]
            types[t] = types.get(t, 0) + 1
    bars = page.get_by_test_id("top-exceptions").get_by_test_id("bar-row")
    expect(bars).to_have_count(len(types))
    for t, n in types.items():
        expect(bars.filter(has_text=t)).to_contain_text(str(n))
    codes = page.get_by_test_id("top-result-codes")
    for r in failed:
        expect(codes).to_contain_text(r["result_code"])
    screenshot(page, "failures")

    # To the failing transactions.
    rows.filter(has_text="GET /checkout").click()
    expect(page.get_by_test_id("drill-row")).to_have_count(1)
    page.get_by_test_id("drill-row").click()
    expect(page.get_by_test_id("transaction-title")).to_have_text("GET /checkout")

    # Failed dependencies: the unreachable host has result code 0, shown as "failed".
    page.goto(seeded["url"] + "/#/failures?type=dependency")
    expect(page.get_by_test_id("operation-row").filter(has_text="GET /unreachable")).to_be_visible()
    expect(page.get_by_test_id("top-result-codes").get_by_test_id("bar-row").filter(has_text="failed")).to_have_count(1)
    expect(page.get_by_test_id("top-result-codes").locator(".bar-label", has_text=re.compile(r"^0$"))).to_have_count(0)
    screenshot(page, "failures-dependencies")


def test_metric_charts_one_per_metric_split_and_standard(seeded: Dict[str, Any], page: Page, screenshot: Any) -> None:
    emu = seeded["emu"]
    metrics = emu.items(type="metric", limit=1000)
    names = {m["name"] for m in metrics} - {"_OTELRESOURCE_"}
    page.goto(seeded["url"] + "/#/charts")
    cards = page.get_by_test_id("metric-card")
    expect(cards).to_have_count(len(names))
    expect(page.locator("[data-testid=metric-card][data-metric='_OTELRESOURCE_']")).to_have_count(0)
    expect(page.locator("[data-testid=metric-card][data-standard='requests/duration']")).to_contain_text("requests/duration")
    expect(page.locator("[data-testid=metric-card][data-standard='dependencies/duration']")).to_contain_text("dependencies/duration")
    orders = page.locator("[data-testid=metric-card][data-metric='orders_placed']")
    expect(orders.get_by_test_id("chart-point")).to_have_count(1)
    expected = sum(m["envelope"]["data"]["baseData"]["metrics"][0]["value"] for m in metrics if m["name"] == "orders_placed")
    assert sum(points(orders)) == expected == 3
    screenshot(page, "metric-charts")

    page.get_by_test_id("metrics-split").select_option("region")
    expect(orders.get_by_test_id("chart-series")).to_have_attribute("data-label", "eu")
    page.get_by_test_id("metrics-split").select_option("role")
    server = page.locator("[data-testid=metric-card][data-standard='requests/duration']")
    expect(server.get_by_test_id("chart-series")).to_have_attribute("data-label", "backend")
    page.get_by_test_id("metrics-resource").check()
    expect(page.locator("[data-testid=metric-card][data-metric='_OTELRESOURCE_']")).to_have_count(1)
    # The raw items stay in the Metrics list.
    page.get_by_test_id("nav-metrics").click()
    expect(page.get_by_test_id("list-metrics").get_by_test_id("item-row").first).to_be_visible()


def test_filters_belong_to_their_list(seeded: Dict[str, Any], page: Page) -> None:
    rows = lambda: page.get_by_test_id("items-table").get_by_test_id("item-row")  # noqa: E731
    page.goto(seeded["url"] + "/#/requests")
    page.get_by_test_id("filter-text").fill("slow-report")
    expect(rows()).to_have_count(1)
    expect(page.get_by_test_id("clear-filters")).to_be_visible()
    # Dependencies are not filtered by the text typed in Requests: the badge and the list agree.
    page.get_by_test_id("nav-dependencies").click()
    badge = page.get_by_test_id("nav-dependencies").locator(".count")
    expect(rows()).to_have_count(int(badge.inner_text()))
    expect(page.get_by_test_id("filter-text")).to_have_value("")
    expect(page.get_by_test_id("clear-filters")).to_be_hidden()
    # Back in Requests, its filter is still there; an empty result offers to clear it.
    page.get_by_test_id("nav-requests").click()
    expect(page.get_by_test_id("filter-text")).to_have_value("slow-report")
    expect(rows()).to_have_count(1)
    page.get_by_test_id("filter-text").fill("no-such-request-anywhere")
    expect(page.get_by_test_id("empty-state")).to_contain_text("match these filters")
    page.get_by_test_id("empty-clear-filters").click()
    expect(rows()).to_have_count(len(seeded["emu"].items(type="request")))
    expect(page.get_by_test_id("filter-text")).to_have_value("")


def test_every_view_at_800_px(seeded: Dict[str, Any], page: Page, screenshot: Any) -> None:
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(seeded["url"] + "/#/requests")
    expect(page.get_by_test_id("items-table")).to_be_visible()
    # One header row, and every tab inside the window (none cut off at the right).
    tops = [page.locator(sel).bounding_box()["y"] for sel in (".brand", ".conn", ".controls")]
    assert max(tops) - min(tops) < 12, tops
    for tab in page.locator(".tabs a").all():
        box = tab.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 800, (tab.inner_text(), box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    for view in VIEWS:
        page.goto(seeded["url"] + "/#/" + view)
        expect(page.locator("main .view")).to_be_visible()
        expect(page.get_by_test_id("loading")).to_have_count(0)
        screenshot(page, "800px-" + re.sub(r"\W+", "-", view))


def test_the_shell_shows_loading_then_the_counts(seeded: Dict[str, Any], page: Page, screenshot: Any) -> None:
    html = urllib.request.urlopen(seeded["url"] + "/", timeout=10).read().decode()
    assert "Loading telemetry" in html and "Loading counts" in html  # a saved page is never blank
    held: List[Any] = []
    released = []
    page.route("**/api/**", lambda route: route.continue_() if released else held.append(route))
    page.goto(seeded["url"] + "/#/requests")  # the API answers nothing until released below
    expect(page.get_by_test_id("stats-loading")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Loading")
    screenshot(page, "loading")
    released.append(True)
    for route in list(held):
        route.continue_()
    stored = seeded["emu"].stats()["stored"]["items"]
    expect(page.get_by_test_id("stat-stored").locator(".stat-value")).to_have_text("{:,}".format(stored))
    expect(page.get_by_test_id("items-table")).to_be_visible()


def test_a_failed_call_without_a_result_code_is_readable(seeded: Dict[str, Any], page: Page) -> None:
    emu = seeded["emu"]
    dep = next(d for d in emu.items(type="dependency") if d["name"] == "GET /unreachable")
    assert dep["result_code"] == "0" and dep["success"] is False
    page.goto(seeded["url"] + "/#/dependencies")
    row = page.get_by_test_id("item-row").filter(has_text="GET /unreachable")
    expect(row.locator(".code")).to_have_text("failed")
    # In its transaction: the type of the exception recorded under the call.
    exc = next(e for e in emu.items(type="exception") if e["parent_id"] == dep["telemetry_id"])
    page.goto(seeded["url"] + "/#/operation/" + dep["operation_id"])
    span = page.locator("[data-testid=span-row][data-item-id='%d']" % dep["id"])
    expect(span.locator(".code")).to_have_text(exc["envelope"]["data"]["baseData"]["exceptions"][0]["typeName"])


def test_custom_events_carry_only_what_the_user_set(seeded: Dict[str, Any], page: Page) -> None:
    props = sorted(sorted(e["envelope"]["data"]["baseData"]["properties"]) for e in seeded["emu"].items(type="event"))
    assert props == [["cart"], ["method"]]
    page.goto(seeded["url"] + "/#/events")
    expect(page.get_by_test_id("item-row")).to_have_count(2)
    expect(page.get_by_test_id("items-table")).not_to_contain_text("logger_name")


def test_long_exception_types_wrap_and_show_in_full(page: Page) -> None:
    long_type = "myapp.persistence.repositories.orders." + "VeryLongRepositoryConsistencyError" * 2
    now = datetime.now(timezone.utc)
    op = os.urandom(16).hex()
    req = od.request("POST /orders", 30, now, op=op, success=False, code="500")
    exc = od.exception(long_type, "the order table disagrees with itself", now + timedelta(milliseconds=5), op,
                       parent=req["data"]["baseData"]["id"])
    with Emulator(port=0, db=":memory:") as emu:
        post_track(emu.url, [req, exc])
        page.goto(emu.url + "/#/operation/" + op)
        label = page.get_by_test_id("op-item-row").locator(".tree-label")
        expect(label).to_have_attribute("title", long_type + ": the order table disagrees with itself")
        expect(label).to_contain_text(long_type)
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the type is cut off"
        page.goto(emu.url + "/#/exceptions")
        expect(page.get_by_test_id("item-row").locator(".exc-type")).to_have_attribute("title", long_type)


def test_overviews_follow_the_live_feed(page: Page) -> None:
    with Emulator(port=0, db=":memory:") as emu:
        post_track(emu.url, [viewer_data.request_envelope("GET /first")])
        page.goto(emu.url + "/#/performance")
        expect(page.get_by_test_id("operation-row")).to_have_count(1)
        post_track(emu.url, [viewer_data.request_envelope("GET /second", success=False)])
        expect(page.get_by_test_id("operation-row")).to_have_count(2, timeout=10000)  # polled, no reload
        page.goto(emu.url + "/#/failures")
        expect(page.get_by_test_id("operation-row")).to_have_count(1)
        post_track(emu.url, [viewer_data.request_envelope("GET /third", success=False)])
        expect(page.get_by_test_id("operation-row")).to_have_count(2, timeout=10000)


def test_percentiles_shown_are_those_of_the_items(page: Page) -> None:
    durations = [float(ms) for ms in range(1, 21)]
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    with Emulator(port=0, db=":memory:") as emu:
        post_track(emu.url, [od.request("GET /many", ms, start + timedelta(seconds=i)) for i, ms in enumerate(durations)])
        page.goto(emu.url + "/#/performance")
        row = page.get_by_test_id("operation-row")
        expect(row).to_have_attribute("data-items", "20")
        expected = ["%.1f ms" % nearest_rank(durations, p) for p in (.5, .95, .99)]
        assert expected == ["10.0 ms", "19.0 ms", "20.0 ms"]
        for column, text in zip((5, 6, 7), expected):  # Operation, Role, Count, Failed, Avg, P50, P95, P99
            expect(row.locator("td").nth(column)).to_have_text(text)
        assert sum(points(page.get_by_test_id("count-chart"))) == 20
