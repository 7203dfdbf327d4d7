"""The viewer's Live tab in Debian's headless Chromium: it subscribes while open, charts each
app's one-second metrics, shows the sample documents its filter selects, and unsubscribes when
the user leaves it.

Two kinds of apps stream to the emulator: ``FakeLiveApp`` threads that speak the protocol with
known numbers (data points shaped like the service definition's examples, Azure/azure-rest-api-
specs ``ApplicationInsights.LiveMetrics/examples/2024-04-01-preview``), so every number on the
page can be checked exactly; and, when the package's Live Metrics client is there, a real app
(``ai_core.configure()`` with the emulator's connection string, served by wsgiref) whose
requests must add up on the Requests charts. Screenshots: test-output/viewer-live*.png.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect  # noqa: E402

from ai_core.emulator import Emulator  # noqa: E402
from emulator_fixtures import wait_until  # noqa: E402

IKEY = "00000000-0000-0000-0000-000000000000"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

REQ, REQ_FAILED, REQ_DURATION = ("\\ApplicationInsights\\Requests/Sec", "\\ApplicationInsights\\Requests Failed/Sec",
                                 "\\ApplicationInsights\\Request Duration")
DEP, DEP_FAILED, DEP_DURATION = ("\\ApplicationInsights\\Dependency Calls/Sec",
                                 "\\ApplicationInsights\\Dependency Calls Failed/Sec",
                                 "\\ApplicationInsights\\Dependency Call Duration")
EXC, COMMITTED, PHYSICAL = ("\\ApplicationInsights\\Exceptions/Sec", "\\Memory\\Committed Bytes",
                            "\\Process\\Physical Bytes")
CPU_TOTAL, CPU_PROCESS = "\\Processor(_Total)\\% Processor Time", "\\% Process\\Processor Time Normalized"


def metrics_of(base: float) -> Dict[str, float]:
    """Distinct, exactly representable values per app."""
    return {REQ: 4 * base, REQ_FAILED: base, REQ_DURATION: 120.5 * base, DEP: 2 * base, DEP_FAILED: 0.5 * base,
            DEP_DURATION: 45.25 * base, EXC: base, COMMITTED: 512 * 1024 * 1024 * base,
            PHYSICAL: 256 * 1024 * 1024 * base, CPU_TOTAL: 37.5 * base, CPU_PROCESS: 12.25 * base}


def _seconds(timespan: str) -> Optional[float]:
    """The portal's Duration comparand ``d.h:m:s`` in seconds."""
    m = re.fullmatch(r"(\d+)\.(\d+):(\d+):([\d.]+)", timespan)
    return None if m is None else int(m[1]) * 86400 + int(m[2]) * 3600 + int(m[3]) * 60 + float(m[4])


class FakeLiveApp(threading.Thread):
    """A process streaming Live Metrics as the protocol says: pings until subscribed, then one
    post a second with its metrics and the candidate documents its configuration selects."""

    KINDS = {"Request": "Request", "RemoteDependency": "Dependency", "Exception": "Exception",
             "Event": "Event", "Trace": "Trace"}

    def __init__(self, url: str, role: str, instance: str, base: float) -> None:
        super().__init__(daemon=True, name="fake-live-%s-%s" % (role, instance))
        self.target = urlsplit(url)
        self.role, self.instance = role, instance
        self.stream_id = os.urandom(16).hex()
        self.metrics = metrics_of(base)
        self.etag = ""
        self.config: Dict[str, Any] = {}
        self.subscribed = False
        self.posts = 0
        self.stop = threading.Event()

    def candidates(self) -> List[Tuple[Dict[str, Any], bool, float]]:
        """(document, success, duration ms) of what happened in the app this second."""
        who = "%s/%s" % (self.role, self.instance)
        return [
            ({"DocumentType": "Request", "Name": "GET /ok", "Url": "http://shop/ok", "ResponseCode": "200",
              "Duration": "PT0.025S"}, True, 25.0),
            ({"DocumentType": "Request", "Name": "POST /checkout " + who, "Url": "http://shop/checkout",
              "ResponseCode": "500", "Duration": "PT0.12S"}, False, 120.0),
            ({"DocumentType": "RemoteDependency", "Name": "SELECT orders", "CommandName": "SELECT * FROM orders",
              "ResultCode": "0", "Duration": "PT0.005S"}, True, 5.0),
            ({"DocumentType": "RemoteDependency", "Name": "GET /stock " + who, "CommandName": "http://inventory/stock",
              "ResultCode": "200", "Duration": "PT0.8S"}, True, 800.0),
            ({"DocumentType": "Exception", "ExceptionType": "ValueError", "ExceptionMessage": "bad sku " + who}, False, 0.0),
            ({"DocumentType": "Trace", "Message": "stock low " + who}, True, 0.0),
        ]

    def _matches(self, group: Dict[str, Any], doc: Dict[str, Any], success: bool, duration_ms: float) -> bool:
        if group["TelemetryType"] != self.KINDS[doc["DocumentType"]]:
            return False
        for f in group["Filters"]["Filters"]:
            name, predicate, comparand = f["FieldName"], f["Predicate"], f["Comparand"]
            if name == "Success":
                ok = success == (comparand == "true")
                if not (ok if predicate == "Equal" else not ok):
                    return False
            elif name == "Duration" and predicate == "GreaterThan":
                if not duration_ms / 1000.0 > (_seconds(comparand) or 0):
                    return False
            else:
                return False  # this fake knows no other filter
        return True

    def documents(self) -> List[Dict[str, Any]]:
        out = []
        for stream in self.config.get("DocumentStreams") or []:
            for doc, success, duration in self.candidates():
                if any(self._matches(g, doc, success, duration) for g in stream["DocumentFilterGroups"]):
                    out.append(dict(doc, DocumentStreamIds=[stream["Id"]], Properties=[]))
        return out

    def point(self) -> Dict[str, Any]:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {"Version": "fake-1.0", "InvariantVersion": 1, "Instance": self.instance, "RoleName": self.role,
                "MachineName": self.instance, "StreamId": self.stream_id, "Timestamp": now, "IsWebApp": False,
                "PerformanceCollectionSupported": True,
                "Metrics": [{"Name": k, "Value": v, "Weight": 1} for k, v in self.metrics.items()],
                "Documents": self.documents() if self.subscribed else []}

    def call(self, operation: str, body: Any) -> None:
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=10)
        try:
            conn.request("POST", "/QuickPulseService.svc/%s?api-version=2024-04-01-preview&ikey=%s" % (operation, IKEY),
                         json.dumps(body), {"Content-Type": "application/json", "x-ms-qps-configuration-etag": self.etag,
                                            "x-ms-qps-stream-id": self.stream_id, "x-ms-qps-role-name": self.role,
                                            "x-ms-qps-instance-name": self.instance, "x-ms-qps-machine-name": self.instance})
            reply = conn.getresponse()
            raw = reply.read()
            assert reply.status == 200, raw
            self.subscribed = reply.getheader("x-ms-qps-subscribed") == "true"
            self.etag = reply.getheader("x-ms-qps-configuration-etag") or self.etag
            if raw:
                self.config = json.loads(raw)
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.subscribed:
                    self.call("post", [self.point()])
                    self.posts += 1
                    self.stop.wait(1.0)
                else:
                    self.call("ping", self.point())
                    self.stop.wait(0.25)
            except (OSError, AssertionError):
                self.stop.wait(0.5)


@pytest.fixture()
def live_emulator() -> Iterator[Tuple[Emulator, List[FakeLiveApp]]]:
    with Emulator(port=0, db=":memory:") as emu:
        apps = [FakeLiveApp(emu.url, "shop", "shop-1", 1.0), FakeLiveApp(emu.url, "shop", "shop-2", 2.0),
                FakeLiveApp(emu.url, "inventory", "inv-1", 3.0)]
        for a in apps:
            a.start()
        try:
            yield emu, apps
        finally:
            for a in apps:
                a.stop.set()
            for a in apps:
                a.join(5)


def feed_names(page: Page) -> List[str]:
    return page.get_by_test_id("live-document").locator("td.op-name").all_inner_texts()


def test_live_tab_subscribes_charts_every_app_and_unsubscribes_when_left(live_emulator, page: Page, screenshot: Any) -> None:
    emu, apps = live_emulator
    wait_until(lambda: len(emu.app.live.snapshot()["streams"]) == 3, what="three apps pinging")
    assert not any(a.subscribed for a in apps)  # nobody watches yet: pings only

    page.goto(emu.url + "/#/live")
    expect(page.get_by_test_id("live-subscription")).to_have_text("Subscribed")
    wait_until(lambda: all(a.posts >= 3 for a in apps), what="every app posting")

    # The servers table: one row per role and instance, each cell the app's last value.
    rows = page.get_by_test_id("live-server-row")
    expect(rows).to_have_count(3)
    for app in apps:
        row = page.locator("[data-testid=live-server-row][data-role='%s'][data-instance='%s']" % (app.role, app.instance))
        for name, value in app.metrics.items():
            cell = row.locator("td[data-metric='%s']" % name.replace("\\", "\\\\"))
            expect(cell).to_have_attribute("data-value", re.compile(r".+"))
            assert float(cell.get_attribute("data-value")) == value, (app.instance, name)
    inv = page.locator("[data-testid=live-server-row][data-role=inventory]")
    expect(inv.locator("td[data-metric$='Requests/Sec']")).to_have_text("12/s")
    expect(inv.locator("td[data-metric='\\\\Memory\\\\Committed Bytes']")).to_have_text("1.50 GB")
    expect(inv.locator("td[data-metric$='Processor Time Normalized']")).to_have_text("36.8%")

    # One chart per metric, one line per app, each point the value that app posted.
    cards = page.get_by_test_id("live-chart-card")
    expect(cards).to_have_count(11)
    requests_card = page.locator("[data-testid=live-chart-card][data-metric='\\\\ApplicationInsights\\\\Requests/Sec']")
    expect(requests_card.get_by_test_id("chart-series")).to_have_count(3)
    for app in apps:
        series = requests_card.locator("[data-testid=chart-series][data-label='%s · %s']" % (app.role, app.instance))
        values = {float(v) for v in series.get_by_test_id("chart-point").evaluate_all("ps => ps.map(p => p.dataset.value)")}
        assert values == {app.metrics[REQ]}
    expect(requests_card.get_by_test_id("live-now")).to_have_text("24/s")  # 4 + 8 + 12 a second

    # The default stream: failed requests, exceptions and traces; no successful request.
    expect(page.get_by_test_id("live-document").filter(has_text="POST /checkout shop/shop-1").first).to_be_visible()
    expect(page.get_by_test_id("live-document").filter(has_text="ValueError").first).to_be_visible()
    expect(page.get_by_test_id("live-document").filter(has_text="stock low inventory/inv-1").first).to_be_visible()
    assert "GET /ok" not in feed_names(page)
    screenshot(page, "live")

    # A filter goes to the apps; the feed starts over and follows it.
    page.get_by_test_id("live-filter").fill("dependencies where Duration > 500")
    page.get_by_test_id("live-filter-apply").click()
    expect(page.get_by_test_id("live-filter-applied")).to_contain_text("Dependency where Duration GreaterThan 0.0:0:0.5")
    expect(page.get_by_test_id("live-document").filter(has_text="GET /stock shop/shop-2").first).to_be_visible()
    for _ in range(2):  # more posts arrive: still only the slow dependencies
        posts = [a.posts for a in apps]
        wait_until(lambda: all(a.posts >= n + 2 for a, n in zip(apps, posts)), what="two more posts")
        names = feed_names(page)
        assert names and all(n.startswith("GET /stock ") for n in names), names
    screenshot(page, "live-filtered")

    # "Only failed requests of role inventory": the shop apps are told to send nothing.
    page.get_by_test_id("live-filter").fill("requests where Success = false and role = inventory")
    page.get_by_test_id("live-filter").press("Enter")
    expect(page.get_by_test_id("live-document").filter(has_text="POST /checkout inventory/inv-1").first).to_be_visible()
    wait_until(lambda: all(a.config.get("DocumentStreams") == [] for a in apps if a.role == "shop"), what="shop told to send nothing")
    names = feed_names(page)
    assert names and set(names) == {"POST /checkout inventory/inv-1"}, names

    # The role picker narrows the servers, charts and feed to one role.
    page.get_by_test_id("live-role").select_option("shop")
    expect(page.get_by_test_id("live-server-row")).to_have_count(2)
    expect(requests_card.get_by_test_id("chart-series")).to_have_count(2)
    expect(page).to_have_url(re.compile(r"#/live\?role=shop"))

    # Leaving the tab: the heartbeat stops, the apps are told to ping again within seconds.
    page.get_by_test_id("nav-requests").click()
    wait_until(lambda: not any(a.subscribed for a in apps), timeout=30, what="apps unsubscribed after leaving the tab")
    assert emu.app.live.snapshot()["subscribed"] is False


def test_a_filter_it_cannot_read_says_why_and_changes_nothing(browser: Any) -> None:
    # Its own page: the refused filter's 400 is the one console error expected here.
    with Emulator(port=0, db=":memory:") as emu:
        context = browser.new_context()
        page = context.new_page()
        errors: List[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(emu.url + "/#/live")
            page.get_by_test_id("live-filter").fill("requests where Colour = red")
            page.get_by_test_id("live-filter-apply").click()
            expect(page.get_by_test_id("live-filter-error")).to_contain_text("have no field 'Colour'")
            assert emu.app.live.configuration_summary()["filter"] == ""
            page.get_by_test_id("live-filter").fill("traces")
            page.get_by_test_id("live-filter-apply").click()
            expect(page.get_by_test_id("live-filter-error")).to_be_hidden()
            expect(page.get_by_test_id("live-filter-applied")).to_have_text("Apps send: Trace")
        finally:
            context.close()
        assert [e for e in errors if "status of 400" not in e] == [], errors


def test_pause_unsubscribes_and_resume_subscribes_again(live_emulator, page: Page) -> None:
    emu, apps = live_emulator
    page.goto(emu.url + "/#/live")
    wait_until(lambda: all(a.subscribed for a in apps), what="subscribed while the tab is open")
    page.get_by_test_id("pause-toggle").click()  # the header's Pause: nothing is polled, nobody watches
    wait_until(lambda: not any(a.subscribed for a in apps), what="unsubscribed while paused")
    page.get_by_test_id("pause-toggle").click()
    wait_until(lambda: all(a.subscribed for a in apps), what="subscribed again after Resume")


def test_closing_the_page_unsubscribes(live_emulator, browser: Any) -> None:
    emu, apps = live_emulator
    context = browser.new_context()
    page = context.new_page()
    page.goto(emu.url + "/#/live")
    wait_until(lambda: all(a.subscribed for a in apps), what="subscribed while the tab is open")
    context.close()
    wait_until(lambda: not any(a.subscribed for a in apps), what="unsubscribed after the page closed")


def test_an_empty_live_tab_says_how_to_stream(page: Page) -> None:
    with Emulator(port=0, db=":memory:") as emu:
        page.goto(emu.url + "/#/live")
        expect(page.get_by_test_id("live-empty")).to_contain_text("No app is streaming Live Metrics yet")
        expect(page.get_by_test_id("live-subscription")).to_have_text("Subscribed")
        expect(page.get_by_test_id("connection-string")).to_contain_text("LiveEndpoint=%s/" % emu.url)
        page.goto("about:blank")  # stop polling before the emulator goes


# -- a real app, when the package's Live Metrics client is present -----------------------------------

APP = r'''
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
import ai_core
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

tel = ai_core.configure(connection_string=CS, role_name="live-shop", role_instance="live-1",
                        disable_offline_storage=True)

def app(environ, start_response):
    status = "500 Internal Server Error" if environ["PATH_INFO"] == "/fail" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"done"]

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app), handler_class=Quiet)
print("PORT", server.server_port, flush=True)
try:
    server.serve_forever()
finally:
    tel.shutdown()
'''


def live_client_available() -> bool:
    try:
        from ai_core import options
        from ai_core.live_metrics import build_live_metrics  # noqa: F401
    except ImportError:
        return False
    return any(spec.name == "live_metrics" for spec in options.OPTIONS)


def series_points(card: Any, label: str) -> List[Tuple[float, float]]:
    """(time in s, value) of one line of a chart."""
    raw = card.locator("[data-testid=chart-series][data-label='%s']" % label).get_by_test_id("chart-point").evaluate_all(
        "ps => ps.map(p => [p.dataset.time, p.dataset.value])")
    out = []
    for t, v in raw:
        out.append((datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp(), float(v)))
    return sorted(out)


def counted(points: List[Tuple[float, float]]) -> float:
    """What a per-second rate adds up to: each value times the interval it covers."""
    return sum(v * (t - points[i - 1][0]) for i, (t, v) in enumerate(points) if i)


@pytest.mark.skipif(not live_client_available(), reason="the Live Metrics client (ai_core.live_metrics) is not there yet")
def test_a_real_apps_requests_add_up_on_the_live_charts(page: Page, screenshot: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    with Emulator(port=0, db=":memory:") as emu:
        proc = subprocess.Popen([sys.executable, "-c", "CS = %r\n" % emu.connection_string + textwrap.dedent(APP)],
                                cwd=ROOT, env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.startswith("PORT "), (line, proc.stderr.read() if proc.stderr else "")
            port = int(line.split()[1])

            def get(path: str) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()

            get("/warm-up")  # the Live Metrics thread starts with the first request
            page.goto(emu.url + "/#/live")
            expect(page.get_by_test_id("live-server-row").filter(has_text="live-1")).to_have_count(1, timeout=30000)
            [stream] = wait_until(lambda: [s for s in emu.app.live.snapshot()["streams"] if s["state"] == "posting"],
                                what="the app posting once the Live tab is open")
            # A chart of our own: the app counts its failed requests every second.
            page.get_by_test_id("live-charts-input").fill("count of requests where Success = false")
            page.get_by_test_id("live-charts-apply").click()
            own = page.locator("[data-testid=live-chart-card][data-own='1']")
            expect(own).to_have_count(1)
            chart_id = own.get_attribute("data-metric")
            wait_until(lambda: any(chart_id in p["metrics"] for p in emu.app.live.snapshot()["streams"][0]["points"]),
                     what="the app computing the chart")
            failures = 0
            for i in range(30):  # about 3 seconds of traffic, a fifth of it failing
                get("/fail" if i % 5 == 0 else "/ok")
                failures += i % 5 == 0
                time.sleep(0.1)
            done = time.time()
            label = "live-shop · %s" % stream["instance"]
            req_card = page.locator("[data-testid=live-chart-card][data-metric='\\\\ApplicationInsights\\\\Requests/Sec']")
            failed_card = page.locator("[data-testid=live-chart-card][data-metric='\\\\ApplicationInsights\\\\Requests Failed/Sec']")
            # Two more points on the chart after the last request, then add it up.
            wait_until(lambda: sum(1 for t, _ in series_points(req_card, label) if t > done) >= 2,
                     what="points after the traffic")
            total, failed = counted(series_points(req_card, label)), counted(series_points(failed_card, label))
            assert abs(total - 30) <= 3, total
            assert abs(failed - failures) <= 1, failed
            # The app's own count, per second, adds up to exactly the failures sent.
            assert sum(v for _, v in series_points(own, label)) == failures
            expect(own.locator(".card-title")).to_have_text("count of requests where Success = false")
            # The default stream sends failed requests: the feed shows them.
            expect(page.get_by_test_id("live-document").filter(has_text="GET /fail").first).to_be_visible()
            screenshot(page, "live-real-app")
        finally:
            page.goto("about:blank")  # stop polling before the emulator goes
            proc.terminate()
            proc.communicate(timeout=20)


# -- ./scripts/demo: its apps on the Live tab ----------------------------------------------------------

@pytest.mark.skipif(not live_client_available(), reason="the Live Metrics client (ai_core.live_metrics) is not there yet")
def test_the_demos_apps_stream_to_the_live_tab(tmp_path: Any, page: Page, screenshot: Any) -> None:
    import signal
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_")) and k != "DEMO_ONCE"}
    demo = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "scripts", "demo.py"), "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=ROOT, env=dict(env, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: List[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 180  # several servers starting on a loaded machine
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Metrics arrive every 60 s"):
                break
        output = "\n".join(lines)
        viewer = re.search(r"^Viewer: (\S+)$", output, re.M)
        apps = dict(re.findall(r"^App:\s+(\S+)\s+(http://\S+)", output, re.M))  # the servers (workers have no URL)
        assert viewer and "storefront" in apps, output

        page.goto(viewer.group(1) + "#/live")
        expect(page.get_by_test_id("live-subscription")).to_have_text("Subscribed")
        for role in apps:  # every app of the demo streams (each gunicorn/uvicorn worker on its own)
            expect(page.locator("[data-testid=live-server-row][data-role='%s']" % role).first).to_be_visible(timeout=30000)
        row = page.locator("[data-testid=live-server-row][data-role=storefront]")
        expect(row.locator("td", has_text="posting")).to_have_count(1, timeout=30000)
        instance = row.get_attribute("data-instance")

        started = time.time()
        for i in range(20):  # the shop's home page, 20 times over about 2 seconds, and a failing checkout
            urlopen_status(apps["storefront"] + "/")
            time.sleep(0.1)
        urlopen_status(apps["storefront"] + "/checkout", b"sku=TEA-01")
        done = time.time()
        label = "storefront · %s" % instance
        req_card = page.locator("[data-testid=live-chart-card][data-metric='\\\\ApplicationInsights\\\\Requests/Sec']")
        wait_until(lambda: sum(1 for t, _ in series_points(req_card, label) if t > done) >= 2, what="points after the traffic")
        total = counted([p for p in series_points(req_card, label) if p[0] > started - 1.5])
        assert abs(total - 21) <= 3, total
        # The default stream: the failed checkout is in the feed, with its 502.
        checkout = page.get_by_test_id("live-document").filter(has_text="POST /checkout").first
        expect(checkout).to_be_visible()
        expect(checkout).to_contain_text("502")
        screenshot(page, "live-demo")
        page.goto("about:blank")
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.communicate()


def urlopen_status(url: str, data: Optional[bytes] = None) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as reply:
            reply.read()
            return reply.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code
