"""SQL dependencies against a real PostgreSQL server: queries through psycopg2 and psycopg 3
inside a request arrive as `postgresql` dependencies naming the server and the database, with
the SQL text, success or failure, and the request's operation."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from postgres import postgres  # noqa: F401
from subprocess_helpers import run_python

APP = """
import ai_core, sqlite3
import psycopg, psycopg2
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="shop-api", disable_offline_storage=True,
                        {instrumentations})
tracer = trace.get_tracer("shop")
with tracer.start_as_current_span("GET /orders/{{id}}", kind=SpanKind.SERVER,
        attributes={{"http.request.method": "GET", "http.route": "/orders/{{id}}", "url.path": "/orders/7",
                     "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200}}):
    conn = psycopg2.connect({dsn!r})
    cur = conn.cursor()
    cur.execute("SELECT 'psycopg2' AS driver, 41 + 1 AS answer")
    assert cur.fetchone() == ("psycopg2", 42)
    try:
        cur.execute("SELECT * FROM missing_orders_psycopg2")
    except psycopg2.errors.UndefinedTable:
        conn.rollback()
    else:
        raise SystemExit("the missing table was found")
    conn.close()

    with psycopg.connect({dsn!r}) as conn:
        assert conn.execute("SELECT 'psycopg3' AS driver, 41 + 1 AS answer").fetchone() == ("psycopg3", 42)
        try:
            conn.execute("SELECT * FROM missing_orders_psycopg3")
        except psycopg.errors.UndefinedTable:
            conn.rollback()
        else:
            raise SystemExit("the missing table was found")

    sqlite3.connect(":memory:").cursor().execute("SELECT 'sqlite'").fetchall()  # traced through cursor()
print("flushed", tel.force_flush(10))
tel.shutdown()
"""

QUERIES = {
    # SQL text -> the dependency's success
    "SELECT 'psycopg2' AS driver, 41 + 1 AS answer": True,
    "SELECT * FROM missing_orders_psycopg2": False,
    "SELECT 'psycopg3' AS driver, 41 + 1 AS answer": True,
    "SELECT * FROM missing_orders_psycopg3": False,
}


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _run_app(emu: Emulator, pg, instrumentations: str) -> None:
    out = run_python(APP.format(cs=emu.connection_string, dsn=pg.dsn, instrumentations=instrumentations))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "flushed True" in out.stdout, out.stdout + out.stderr


def _expected_target(pg) -> str:
    # The official rule (README, golden case db_postgresql_old): host, ":port" unless it is
    # PostgreSQL's default 5432, then "|" and the database name.
    server = pg.host if pg.port == 5432 else "%s:%d" % (pg.host, pg.port)
    return "%s|%s" % (server, pg.dbname)


@pytest.mark.parametrize("instrumentations", ["", "instrumentations=['psycopg2', 'psycopg', 'sqlite3']"],
                         ids=["default", "named"])
def test_queries_through_psycopg2_and_psycopg3_are_postgresql_dependencies_of_the_request(
        emu, postgres, instrumentations):  # noqa: F811
    _run_app(emu, postgres, instrumentations)

    request = emu.wait_for_items(count=1, timeout=60, type="request")[0]["envelope"]
    op_id = request["tags"]["ai.operation.id"]
    request_id = request["data"]["baseData"]["id"]

    deps = [i["envelope"] for i in emu.wait_for_items(count=5, timeout=60, type="dependency")]
    postgres_deps = {d["data"]["baseData"]["data"]: d for d in deps if d["data"]["baseData"]["type"] == "postgresql"}
    assert sorted(postgres_deps) == sorted(QUERIES), [d["data"]["baseData"] for d in deps]
    for sql, success in QUERIES.items():
        dep = postgres_deps[sql]
        base = dep["data"]["baseData"]
        assert base["target"] == _expected_target(postgres), (sql, base)
        assert base["success"] is success, (sql, base)
        assert dep["tags"]["ai.operation.id"] == op_id
        assert dep["tags"]["ai.operation.parentId"] == request_id
        # README "Deliberate differences" 1: the request's name, not the dependency's own.
        assert dep["tags"]["ai.operation.name"] == "GET /orders/{id}"
        assert dep["tags"]["ai.cloud.role"] == "shop-api"
    assert [d["data"]["baseData"]["type"] for d in deps if d["data"]["baseData"]["data"] not in QUERIES] == ["SQL"]
    assert emu.rejected() == []


def test_instrumentations_without_the_postgres_drivers_leave_postgres_queries_untracked(emu, postgres):  # noqa: F811
    _run_app(emu, postgres, "instrumentations=['sqlite3']")

    emu.wait_for_items(count=1, timeout=60, type="request")
    deps = [i["envelope"]["data"]["baseData"] for i in emu.wait_for_items(count=1, timeout=60, type="dependency")]
    assert [(d["type"], d["data"]) for d in deps] == [("SQL", "SELECT 'sqlite'")]
