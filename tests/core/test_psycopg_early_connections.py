"""psycopg 3 connections opened before ``configure()``, sync and async, are traced from their
next query on, like connections opened later (``ai_core.psycopg_instrumentation``), and keep
their own cursor factory. A real PostgreSQL and the emulator over HTTP."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from postgres import postgres  # noqa: F401
from subprocess_helpers import run_python

APP = """
import asyncio, ai_core, psycopg
from opentelemetry import trace
from opentelemetry.trace import SpanKind

early = psycopg.connect({dsn!r}, cursor_factory=psycopg.ClientCursor, autocommit=True)


async def main():
    early_async = await psycopg.AsyncConnection.connect({dsn!r}, autocommit=True)
    tel = ai_core.configure(connection_string={cs!r}, role_name="early", disable_offline_storage=True)
    with trace.get_tracer("shop").start_as_current_span("GET /orders", kind=SpanKind.SERVER, attributes={{
            "http.request.method": "GET", "http.route": "/orders", "url.path": "/orders",
            "url.scheme": "http", "server.address": "shop", "http.response.status_code": 200}}):
        assert early.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)
        cursor = await early_async.execute("SELECT 40 + 2")
        assert await cursor.fetchone() == (42,)
        later = psycopg.connect({dsn!r})
        assert later.execute("SELECT 39 + 3").fetchone() == (42,)
    assert isinstance(early.cursor(), psycopg.ClientCursor)  # the connection's own factory, traced
    await early_async.close()
    print("flushed", tel.force_flush(10))


asyncio.run(main())
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_connections_opened_before_configure_are_traced_with_their_own_cursor_factory(
        emu: Emulator, postgres) -> None:  # noqa: F811
    out = run_python(APP.format(dsn=postgres.dsn, cs=emu.connection_string), timeout=120)
    assert out.returncode == 0, out.stderr
    assert "flushed True" in out.stdout
    (request,) = emu.wait_for_items(count=1, timeout=30, type="request")
    deps = [i["envelope"]["data"]["baseData"] for i in emu.operation(request["operation_id"])
            if i["type"] == "dependency"]
    assert sorted(d["data"] for d in deps) == ["SELECT %s::int + 1", "SELECT 39 + 3", "SELECT 40 + 2"]
    assert {d["type"] for d in deps} == {"postgresql"}
    assert all(d["target"].endswith("|" + postgres.dbname) and str(postgres.port) in d["target"] for d in deps)
