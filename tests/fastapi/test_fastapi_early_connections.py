"""SQL on PostgreSQL connections opened before the app's first request (a SQLAlchemy pool
warmed at import, as the full-stack FastAPI template's tests do with a session-scoped
database fixture; a psycopg2 pool; a psycopg 3 connection the app keeps for its whole life)
is a dependency of the request that runs it, like SQL on connections opened later. A real PostgreSQL, the
emulator over HTTP, FastAPI's TestClient in a fresh interpreter."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from postgres import postgres  # noqa: F401
from subprocess_helpers import run_python

pytest.importorskip("sqlalchemy")

APP = """
import psycopg, psycopg2.pool
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from fastapi_ai import ApplicationInsightsMiddleware

engine = create_engine({url!r}, pool_size=2)  # psycopg 3, as the full-stack FastAPI template
engine2 = create_engine({url!r}.replace("+psycopg:", "+psycopg2:"), pool_size=2)
opened = []
for each in (engine, engine2):
    event.listen(each, "connect", lambda dbapi_connection, record: opened.append(dbapi_connection))
    with each.connect() as warm_up:  # the pool opens its connection at import, before the lifespan
        warm_up.execute(text("SELECT 1"))
kept = psycopg.connect({dsn!r}, autocommit=True)  # opened at import, used by every request
pg2_pool = psycopg2.pool.ThreadedConnectionPool(1, 2, {dsn!r})  # psycopg2's own pool, opened at import

app = FastAPI(title="shop")
app.add_middleware(ApplicationInsightsMiddleware, connection_string={cs!r}, disable_offline_storage=True)


@app.get("/pooled")
def pooled():
    with engine.connect() as conn:
        return {{"n": conn.execute(text("SELECT 40 + 2")).scalar()}}


@app.get("/kept")
def kept_connection():
    return {{"n": kept.execute("SELECT 41 + 1").fetchone()[0]}}


@app.get("/pooled-psycopg2")
def pooled_psycopg2():
    with engine2.connect() as conn:
        return {{"n": conn.execute(text("SELECT 39 + 3")).scalar()}}


@app.get("/psycopg2-pool")
def psycopg2_pool():
    conn = pg2_pool.getconn()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 38 + 4")
            return {{"n": cur.fetchone()[0]}}
    finally:
        pg2_pool.putconn(conn)


with TestClient(app) as client:
    for path in ("/pooled", "/kept", "/pooled", "/pooled-psycopg2", "/psycopg2-pool"):
        assert client.get(path).json() == {{"n": 42}}, path
assert len(opened) == 2, opened  # every request ran on a connection opened at import
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_connections_opened_before_the_first_request_are_traced(emu: Emulator, postgres) -> None:  # noqa: F811
    url = "postgresql+psycopg://%s@%s:%d/%s" % (postgres.user, postgres.host, postgres.port, postgres.dbname)
    out = run_python(APP.format(url=url, dsn=postgres.dsn, cs=emu.connection_string), timeout=120)
    assert out.returncode == 0, out.stderr
    sql: Dict[str, List[str]] = {}
    targets: List[Any] = []
    for item in emu.wait_for_items(count=5, timeout=30, type="request"):
        request = item["envelope"]
        deps = [i["envelope"]["data"]["baseData"] for i in emu.operation(request["tags"]["ai.operation.id"])
                if i["type"] == "dependency"]
        sql.setdefault(request["data"]["baseData"]["name"], []).extend(d["data"] for d in deps)
        targets += [(d["type"], d["target"]) for d in deps]
    assert sql == {"GET /pooled": ["SELECT 40 + 2", "SELECT 40 + 2"], "GET /kept": ["SELECT 41 + 1"],
                   "GET /pooled-psycopg2": ["SELECT 39 + 3"], "GET /psycopg2-pool": ["SELECT 38 + 4"]}
    assert all(kind == "postgresql" and str(postgres.port) in target and target.endswith("|" + postgres.dbname)
               for kind, target in targets), targets
