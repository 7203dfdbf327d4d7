"""Outbound dependencies for every library of the default ``instrumentations`` list (README,
"Options"), each against a real local server: HTTP calls through requests, urllib, urllib3,
httpx (sync and async) to a stock ``http.server``, SQL through sqlite3 and through psycopg2 to
a throwaway PostgreSQL. ``configure()`` runs with its defaults (no ``instrumentations``), in
a fresh process, and each call arrives as a dependency of the request it was made in, with
the result a user would look for: type, target, the URL or SQL, result code and success."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List

import pytest

from ai_core.emulator import Emulator
from emulator_fixtures import emulator  # noqa: F401
from postgres import postgres  # noqa: F401
from subprocess_helpers import run_python

WAIT_S = 30.0

SCRIPT = """
import asyncio, ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="deps", disable_offline_storage=True)
{imports}

def calls(ok, fail):
{calls}

with trace.get_tracer("shop").start_as_current_span("GET /checkout", kind=SpanKind.SERVER, attributes={{
        "http.request.method": "GET", "http.route": "/checkout", "url.path": "/checkout",
        "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200}}):
    calls({ok!r}, {fail!r})
ai_core.track_event("sentinel")
tel.shutdown()
"""

# library -> (imports, body of calls(ok, fail): one call answered 200, one answered 503)
HTTP_CLIENTS: Dict[str, tuple] = {
    "requests": ("import requests", """
    assert requests.get(ok).status_code == 200
    assert requests.get(fail).status_code == 503"""),
    "urllib": ("import urllib.request, urllib.error", """
    urllib.request.urlopen(ok).read()
    try:
        urllib.request.urlopen(fail)
    except urllib.error.HTTPError as err:
        assert err.code == 503"""),
    "urllib3": ("import urllib3", """
    pool = urllib3.PoolManager()
    assert pool.request("GET", ok).status == 200
    assert pool.request("GET", fail).status == 503"""),
    "httpx": ("import httpx", """
    with httpx.Client() as client:
        assert client.get(ok).status_code == 200
        assert client.get(fail).status_code == 503"""),
    "httpx-async": ("import httpx", """
    async def main():
        async with httpx.AsyncClient() as client:
            assert (await client.get(ok)).status_code == 200
            assert (await client.get(fail)).status_code == 503
    asyncio.run(main())"""),
}


class Stock(BaseHTTPRequestHandler):
    """``/ok/...`` answers 200, anything else 503."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server API name)
        status = 200 if self.path.startswith("/ok/") else 503
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stock_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stock)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def run_calls(emu: Emulator, imports: str, calls: str, ok: str = "", fail: str = "") -> List[Dict[str, Any]]:
    """Run the calls inside one request; the dependencies that arrived, after the sentinel."""
    out = run_python(SCRIPT.format(cs=emu.connection_string, imports=imports, calls=calls, ok=ok, fail=fail), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    emu.wait_for_items(1, WAIT_S, type="event", q="sentinel")
    (request,) = emu.items(type="request")
    deps = emu.items(type="dependency")
    for dep in deps:
        assert dep["operation_id"] == request["operation_id"], dep
        assert dep["parent_id"] == request["telemetry_id"], dep
        assert dep["envelope"]["tags"]["ai.operation.name"] == "GET /checkout"
    assert emu.rejected() == []
    return sorted(deps, key=lambda d: d["envelope"]["data"]["baseData"]["data"])


@pytest.mark.parametrize("library", list(HTTP_CLIENTS))
def test_http_calls_are_dependencies_of_their_request(emulator: Emulator, stock_server: ThreadingHTTPServer, library: str) -> None:  # noqa: F811
    host = "127.0.0.1:%d" % stock_server.server_port
    ok, fail = "http://%s/ok/%s" % (host, library), "http://%s/fail/%s" % (host, library)
    deps = run_calls(emulator, *HTTP_CLIENTS[library], ok=ok, fail=fail)
    summary = [(d["envelope"]["data"]["baseData"]["type"], d["target"], d["envelope"]["data"]["baseData"]["data"],
                d["result_code"], d["success"]) for d in deps]
    # One dependency per call (urllib3 under requests, or httpx's transport, do not add a second).
    assert summary == [
        ("HTTP", host, fail, "503", False),
        ("HTTP", host, ok, "200", True),
    ]
    assert {d["name"] for d in deps} == {"GET /ok/%s" % library, "GET /fail/%s" % library}


def test_sqlite3_queries_are_dependencies_of_their_request(emulator: Emulator, tmp_path) -> None:  # noqa: F811
    db = str(tmp_path / "shop.db")
    calls = """
    cur = sqlite3.connect(%r).cursor()
    cur.execute("CREATE TABLE orders (id INTEGER)")
    cur.execute("SELECT count(*) FROM orders").fetchall()
    try:
        cur.execute("SELECT * FROM missing_orders")
    except sqlite3.OperationalError:
        pass""" % db
    deps = run_calls(emulator, "import sqlite3", calls)
    summary = [(d["envelope"]["data"]["baseData"]["type"], d["envelope"]["data"]["baseData"]["data"], d["success"])
               for d in deps]
    assert summary == [
        ("SQL", "CREATE TABLE orders (id INTEGER)", True),  # sqlite is "SQL", as the official mapping
        ("SQL", "SELECT * FROM missing_orders", False),
        ("SQL", "SELECT count(*) FROM orders", True),
    ]


def test_sqlite3_connection_shortcuts_are_dependencies_too(emulator: Emulator, tmp_path) -> None:  # noqa: F811
    """``conn.execute``/``executemany`` (the tutorials' style) make their cursor in C, where the
    stock instrumentation never sees it; ours runs them through a traced cursor."""
    db = str(tmp_path / "shop.db")
    calls = """
    conn = sqlite3.connect(%r)
    with conn:
        conn.execute("CREATE TABLE orders (id INTEGER)")
        conn.executemany("INSERT INTO orders VALUES (?)", [(1,), (2,)])
    assert conn.execute("SELECT count(*) FROM orders").fetchone() == (2,)
    cur = conn.cursor()
    cur.execute("SELECT max(id) FROM orders")
    try:
        conn.execute("SELECT * FROM missing_orders")
    except sqlite3.OperationalError:
        pass
    conn.close()""" % db
    deps = run_calls(emulator, "import sqlite3", calls)
    summary = [(d["envelope"]["data"]["baseData"]["type"], d["envelope"]["data"]["baseData"]["data"], d["success"])
               for d in deps]
    assert summary == [  # one dependency per query, shortcut or cursor alike
        ("SQL", "CREATE TABLE orders (id INTEGER)", True),
        ("SQL", "INSERT INTO orders VALUES (?)", True),
        ("SQL", "SELECT * FROM missing_orders", False),
        ("SQL", "SELECT count(*) FROM orders", True),
        ("SQL", "SELECT max(id) FROM orders", True),
    ]


def test_psycopg2_queries_against_a_real_postgresql_are_dependencies_of_their_request(emulator: Emulator, postgres) -> None:  # noqa: F811
    calls = """
    conn = psycopg2.connect(%r)
    cur = conn.cursor()
    cur.execute("SELECT 41 + 1")
    assert cur.fetchone() == (42,)
    try:
        cur.execute("SELECT * FROM missing_orders")
    except psycopg2.errors.UndefinedTable:
        conn.rollback()
    conn.close()""" % postgres.dsn
    deps = run_calls(emulator, "import psycopg2", calls)
    summary = [(d["envelope"]["data"]["baseData"]["type"], d["envelope"]["data"]["baseData"]["data"], d["success"])
               for d in deps]
    assert summary == [
        ("postgresql", "SELECT * FROM missing_orders", False),
        ("postgresql", "SELECT 41 + 1", True),
    ]
    assert all(d["target"].endswith("|%s" % postgres.dbname) and str(postgres.port) in d["target"] for d in deps), deps
