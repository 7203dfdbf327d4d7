"""Products and users in SQLite through the standard library's ``sqlite3`` (one connection per
request, as in Flask's tutorial). Each query is a SQL dependency of its request."""

from __future__ import annotations

import os
import sqlite3
from typing import Any, List, Optional

import click
from flask import Flask, current_app, g
from werkzeug.security import generate_password_hash

SCHEMA = """
DROP TABLE IF EXISTS products;
DROP TABLE IF EXISTS users;
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL, stock INTEGER NOT NULL);
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, password TEXT NOT NULL);
INSERT INTO products VALUES (1, 'Sencha green tea', 7.5, 40), (2, 'Darjeeling', 9.0, 25),
                            (3, 'Rooibos', 6.0, 12), (4, 'Matcha', 18.0, 3);
"""


def get_db() -> sqlite3.Connection:
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
        g.db.row_factory = sqlite3.Row
    return g.db


def query(sql: str, params: tuple = ()) -> List[sqlite3.Row]:
    return get_db().execute(sql, params).fetchall()


def query_one(sql: str, params: tuple = ()) -> Optional[Any]:
    rows = query(sql, params)
    return rows[0] if rows else None


def close_db(exc: Optional[BaseException] = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@click.command("init-db")
def init_db_command() -> None:
    """Create the tables, four products and the user alice (password wonderland)."""
    os.makedirs(os.path.dirname(os.path.abspath(current_app.config["DATABASE"])), exist_ok=True)
    db = get_db()
    db.executescript(SCHEMA)
    db.execute("INSERT INTO users (id, username, password) VALUES (1, 'alice', ?)",
               (generate_password_hash("wonderland"),))
    db.commit()
    click.echo("Initialized the database: %s" % current_app.config["DATABASE"])


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
    app.cli.add_command(init_db_command)
