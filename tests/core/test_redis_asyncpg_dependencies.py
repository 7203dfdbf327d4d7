"""Redis and asyncpg calls inside a web request, against a real Redis and a real PostgreSQL:
Redis commands are dependencies named by command with the server as target and no keys or
values; asyncpg queries are SQL dependencies like psycopg's; both under their request
(README, "Celery": what is recorded)."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from postgres import postgres  # noqa: F401
from redis_server import redis_server  # noqa: F401
from subprocess_helpers import run_python

APP = """
import asyncio
import ai_core, asyncpg, redis
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tel = ai_core.configure(connection_string={cs!r}, role_name="shop-api", disable_offline_storage=True)
tracer = trace.get_tracer("shop")

async def query():
    conn = await asyncpg.connect({pg_url!r})
    try:
        assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await conn.close()

with tracer.start_as_current_span("GET /cart", kind=SpanKind.SERVER, attributes={{
        "http.request.method": "GET", "http.route": "/cart", "url.path": "/cart", "url.scheme": "http",
        "server.address": "shop", "http.response.status_code": 200}}):
    cache = redis.Redis.from_url({redis_url!r})
    cache.set("cart:alice", "secret-basket-contents")
    assert cache.incr("visits:alice") == 1
    assert cache.get("cart:alice") == b"secret-basket-contents"
    asyncio.run(query())
print("flushed", tel.force_flush(10))
tel.shutdown()
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_redis_commands_and_asyncpg_queries_are_dependencies_of_their_request(emu, redis_server, postgres):  # noqa: F811
    out = run_python(APP.format(cs=emu.connection_string, redis_url=redis_server.url(2), pg_url=postgres.url))
    assert out.returncode == 0 and "flushed True" in out.stdout, out.stdout + out.stderr

    [request] = [i["envelope"] for i in emu.wait_for_items(count=1, timeout=60, type="request")]
    request_id = request["data"]["baseData"]["id"]
    deps = [i["envelope"] for i in emu.wait_for_items(count=4, timeout=60, type="dependency")]
    by_type = {}
    for dep in deps:
        assert dep["tags"]["ai.operation.id"] == request["tags"]["ai.operation.id"]
        assert dep["tags"]["ai.operation.parentId"] == request_id
        by_type.setdefault(dep["data"]["baseData"]["type"], []).append(dep["data"]["baseData"])

    redis_deps = by_type["redis"]
    # redis-py 8 sends INCRBY for incr(); arguments are never recorded, keys nor values.
    assert sorted((d["name"], d["data"]) for d in redis_deps) == [
        ("GET", "GET ?"), ("INCRBY", "INCRBY ? ?"), ("SET", "SET ? ?")]
    assert {d["target"] for d in redis_deps} == {redis_server.target}
    assert "secret-basket-contents" not in str(deps) and "cart:alice" not in str(deps)

    queries = [d for d in by_type["postgresql"] if d["data"] == "SELECT $1::int + 1"]
    assert len(queries) == 1, by_type["postgresql"]
    assert queries[0]["target"] == "%s:%d|%s" % (postgres.host, postgres.port, postgres.dbname)
    assert queries[0]["success"] is True
