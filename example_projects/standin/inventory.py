"""The shop's backend API, role "inventory": products in SQLite, orders, a slow stock report.

Stand-in until the framework adapters bring real example apps. Run it by hand against the
emulator (``python -m ai_core.emulator`` in another terminal)::

    python example_projects/standin/inventory.py --port 8001

Endpoints (JSON):
    GET  /health               readiness probe, excluded from telemetry
    GET  /api/products         all products (a SQL dependency)
    GET  /api/products/<id>    one product, 404 if unknown
    POST /api/orders           always fails: the ledger table is missing (a failed SQL
                               dependency, an exception, a 500)
    GET  /api/reports/stock    slow (about 1.2 s): an aggregate query and a warning log
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

from opentelemetry import metrics  # noqa: E402

ROLE = "inventory"
SLOW_REPORT_S = 1.2

args = _common.parse_args(__doc__.splitlines()[0], default_port=8001)
telemetry = _common.configure(ROLE, args)

log = logging.getLogger("inventory.api")
stock_queries = metrics.get_meter("inventory").create_counter(
    "inventory.stock_queries", description="Product lookups served")

# One connection shared by the request threads (sqlite3 is opened after configure(), so the
# sqlite3 instrumentation sees it).
db_lock = threading.Lock()
db = sqlite3.connect(":memory:", check_same_thread=False)
db.executescript("""
    CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT, price REAL, stock INTEGER);
    INSERT INTO products VALUES (1, 'TEA-01', 'Sencha green tea', 7.5, 40),
                                (2, 'TEA-02', 'Assam black tea', 6.0, 12),
                                (3, 'CUP-01', 'Stoneware cup', 14.0, 0),
                                (4, 'POT-01', 'Cast iron teapot', 39.0, 3);
""")


def query(sql: str, params: tuple = ()) -> list:
    with db_lock:
        cursor = db.cursor()  # the dbapi instrumentation traces cursor calls
        cursor.execute(sql, params)
        return cursor.fetchall()


def product(row: tuple) -> dict:
    return {"id": row[0], "sku": row[1], "name": row[2], "price": row[3], "stock": row[4]}


def handle(environ: dict) -> _common.Response:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if path == "/health":
        return _common.reply("200 OK", {"status": "ok"})
    try:
        if method == "GET" and path == "/api/products":
            rows = query("SELECT id, sku, name, price, stock FROM products ORDER BY id")
            stock_queries.add(1, {"kind": "list"})
            log.info("listed %d products", len(rows))
            return _common.reply("200 OK", [product(r) for r in rows])
        if method == "GET" and path.startswith("/api/products/"):
            key = path.rsplit("/", 1)[1]
            rows = query("SELECT id, sku, name, price, stock FROM products WHERE id = ?",
                         (int(key) if key.isdigit() else -1,))
            stock_queries.add(1, {"kind": "one"})
            if not rows:
                log.warning("unknown product %r", key)
                return _common.reply("404 Not Found", {"error": "no such product"})
            return _common.reply("200 OK", product(rows[0]))
        if method == "POST" and path == "/api/orders":
            order = json.loads(_common.read_body(environ) or b"{}")
            log.info("placing order for %s", order.get("sku"))
            # The bug the demo shows: the ledger table was never created (sqlite3.OperationalError).
            query("INSERT INTO ledger (sku, qty) VALUES (?, ?)", (order.get("sku"), order.get("qty", 1)))
            return _common.reply("201 Created", {"status": "placed"})
        if method == "GET" and path == "/api/reports/stock":
            time.sleep(SLOW_REPORT_S)  # pretend this is a heavy aggregate
            rows = query("SELECT SUM(stock), SUM(stock * price), COUNT(*) FROM products WHERE stock > 0")
            log.warning("stock report took %.1f s", SLOW_REPORT_S)
            units, value, lines = rows[0]
            return _common.reply("200 OK", {"units": units, "value": value, "lines": lines})
        return _common.reply("404 Not Found", {"error": "not found"})
    except Exception:
        # What a framework's error handler does: log it (an exception item) and answer 500.
        log.exception("%s %s failed", method, path)
        return _common.reply("500 Internal Server Error", {"error": "internal error"})


if __name__ == "__main__":
    _common.serve(_common.wsgi(handle), args, telemetry, ROLE)
