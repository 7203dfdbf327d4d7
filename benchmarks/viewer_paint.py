"""Time to first paint of each viewer view with 100,000 stored items.

Starts ``python -m ai_core.emulator`` as a subprocess with a file database in a temporary
directory, posts ``--items`` envelopes over one hour (requests of 8 operations in 2 roles, SQL
dependencies, exceptions and metrics: ``tests/support/overview_data.bulk``), then opens every
view in Debian's headless Chromium and prints, per view, the milliseconds from navigation start
to the moment the view's data is on screen (its table, chart or cards visible), the median of
``--runs`` cold page loads. Also prints each aggregate endpoint's own time.

    .venv/bin/python benchmarks/viewer_paint.py [--items 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

import overview_data  # noqa: E402
from ai_core.emulator.process import EmulatorProcess  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# (route, selector whose appearance means the view's data is painted)
VIEWS: List[Tuple[str, str]] = [
    ("requests", "[data-testid=item-row]"),
    ("dependencies", "[data-testid=item-row]"),
    ("exceptions", "[data-testid=item-row]"),
    ("metrics", "[data-testid=item-row]"),
    ("performance", "[data-testid=count-chart] [data-testid=chart-point]"),
    ("performance?type=dependency", "[data-testid=count-chart] [data-testid=chart-point]"),
    ("failures", "[data-testid=failed-chart] [data-testid=chart-point]"),
    ("charts", "[data-testid=metric-chart] [data-testid=chart-point]"),
    ("map", "[data-testid=map-edge]"),
]
ENDPOINTS = ["/api/stats", "/api/items?type=request&limit=200", "/api/performance?type=request&buckets=48",
             "/api/performance?type=dependency&buckets=48", "/api/failures?type=request&buckets=48",
             "/api/metrics", "/api/metrics?name=orders_placed&split=role&buckets=48", "/api/map"]


def post(url: str, batch: list) -> None:
    req = urllib.request.Request(url + "/v2.1/track", data=json.dumps(batch).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        body = json.loads(resp.read())
    if body["itemsAccepted"] != len(batch):
        raise SystemExit("items rejected: %s" % body["errors"][:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess(db=str(Path(tmp) / "emulator.db")) as emu:
        began = time.monotonic()
        for batch in overview_data.bulk(args.items):
            post(emu.url, batch)
        stored = json.load(urllib.request.urlopen(emu.url + "/api/stats"))["stored"]["items"]
        print("stored %d items in %.1f s" % (stored, time.monotonic() - began))

        print("\n%-48s %8s" % ("endpoint", "ms"))
        for path in ENDPOINTS:
            t = time.perf_counter()
            urllib.request.urlopen(emu.url + path, timeout=60).read()
            print("%-48s %8.0f" % (path, (time.perf_counter() - t) * 1000))

        print("\n%-30s %10s  (median of %d cold loads; each run: %s)" % ("view", "paint ms", args.runs, "ms"))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
            try:
                for route, selector in VIEWS:
                    runs = []
                    for _ in range(args.runs):
                        context = browser.new_context(viewport={"width": 1440, "height": 900})
                        page = context.new_page()
                        page.goto(emu.url + "/#/" + route, wait_until="commit")
                        page.wait_for_selector(selector, state="visible", timeout=60_000)
                        runs.append(page.evaluate("performance.now()"))
                        context.close()
                    print("%-30s %10.0f  %s" % (route, statistics.median(runs), " ".join("%.0f" % r for r in runs)))
            finally:
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
