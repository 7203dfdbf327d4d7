"""Products and orders in SQLite, queried in a worker thread so the event loop never waits.

``sqlite3`` is synchronous; ``run_in_threadpool`` runs each query in Starlette's thread pool
and carries the request's context along, so every query is a SQL dependency of its request.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any, List

from starlette.concurrency import run_in_threadpool

PATH = os.environ.get("FASTAPI_SHOP_DB") or os.path.join(os.path.dirname(os.path.dirname(__file__)), "shop.sqlite3")

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, sku TEXT, name TEXT, price REAL);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, product_id INTEGER,
                                   confirmed INTEGER DEFAULT 0);
INSERT OR IGNORE INTO products VALUES (1, 'TEA-01', 'Sencha green tea', 7.5), (2, 'TEA-02', 'Assam black tea', 6.0),
                                      (3, 'CUP-01', 'Stoneware cup', 14.0), (4, 'POT-01', 'Cast iron teapot', 39.0);
"""


def _run(sql: str, params: tuple) -> List[Any]:
    with sqlite3.connect(PATH) as conn:
        cursor = conn.cursor()  # the sqlite3 instrumentation traces cursor calls
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else [cursor.lastrowid]


async def query(sql: str, *params: Any) -> List[Any]:
    return await run_in_threadpool(_run, sql, params)


def create() -> None:
    with sqlite3.connect(PATH) as conn:
        conn.executescript(SCHEMA)
