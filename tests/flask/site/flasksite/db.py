"""SQLite through the standard library's ``sqlite3``: every query is a SQL dependency."""

from __future__ import annotations

import os
import sqlite3
from typing import Any, List, Optional


def path() -> str:
    return os.environ.get("FLASKSITE_DB", "flasksite.sqlite3")


def init_db() -> None:
    with sqlite3.connect(path()) as conn:
        conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            INSERT OR IGNORE INTO items VALUES (1, 'tea'), (2, 'coffee');
            INSERT OR IGNORE INTO users VALUES (7, 'alice');
            """
        )


def query(sql: str, params: tuple = ()) -> List[sqlite3.Row]:
    conn = sqlite3.connect(path())
    try:
        conn.row_factory = sqlite3.Row
        # Through a cursor: the sqlite3 instrumentation does not see Connection.execute().
        return conn.cursor().execute(sql, params).fetchall()
    finally:
        conn.close()


def query_one(sql: str, params: tuple = ()) -> Optional[Any]:
    rows = query(sql, params)
    return rows[0] if rows else None
