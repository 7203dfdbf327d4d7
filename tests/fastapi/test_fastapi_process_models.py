"""fastapi_ai wherever a FastAPI app runs: gunicorn with uvicorn workers, uvicorn --reload,
TestClient and httpx's ASGITransport in a user's own tests, plain Starlette; and option errors."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from fastapi_site import BIN, SITE, app_env, free_port, request, start, stop, uvicorn, wait_until_serving


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _names(emu: Emulator) -> list:
    return sorted(i["envelope"]["data"]["baseData"]["name"] for i in emu.items(type="request", limit=1000))


def test_gunicorn_with_uvicorn_workers_delivers_every_worker_on_stop(emu: Emulator, tmp_path: Path) -> None:
    env = app_env(emu.connection_string, tmp_path / "storage")
    port = free_port()
    proc = start([str(BIN / "gunicorn"), "-k", "uvicorn.workers.UvicornWorker", "-w", "2", "--preload",
                  "-b", "127.0.0.1:%d" % port, "ordersapp:app"], env)
    try:
        wait_until_serving(port, proc)
        for _ in range(6):
            assert request(port, "GET", "/api/orders/1")[0] == 200
        assert request(port, "GET", "/fail")[0] == 500
    finally:
        out = stop(proc)
    assert _names(emu) == ["GET /api/orders/{order_id}"] * 6 + ["GET /fail"], out
    assert len(emu.items(type="exception")) == 1


def test_uvicorn_reload_serves_and_a_stop_delivers(emu: Emulator, tmp_path: Path) -> None:
    env = app_env(emu.connection_string, tmp_path / "storage")
    port = free_port()
    proc = start(uvicorn(port, "--reload", "--reload-dir", str(SITE)), env)
    try:
        wait_until_serving(port, proc)
        assert _get_when_served(port, "/sub/ping/3") == 200  # the reloader's child serves
    finally:
        out = stop(proc)  # the reloader stops its child, whose lifespan shutdown flushes
    assert _names(emu) == ["GET /sub/ping/{n}"], out


def test_a_request_in_flight_at_sigterm_is_delivered(emu: Emulator, tmp_path: Path) -> None:
    env = app_env(emu.connection_string, tmp_path / "storage")
    port = free_port()
    proc = start(uvicorn(port, "--workers", "2"), env)
    try:
        wait_until_serving(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/stream")
        resp = conn.getresponse()
        assert resp.readline() == b"chunk 0\n"  # the request is being served
        proc.send_signal(signal.SIGTERM)  # uvicorn lets it finish, then runs the lifespan shutdown
        assert resp.read() == b"chunk 1\nchunk 2\n"
        conn.close()
    finally:
        out = stop(proc)
    assert _names(emu) == ["GET /stream"], out


def _get_when_served(port: int, path: str) -> int:
    # The reloader listens before its child has imported the app: wait for an answer.
    deadline = time.monotonic() + 60
    while True:
        try:
            return request(port, "GET", path)[0]
        except (ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_plain_starlette_has_one_request_per_http_request(emu: Emulator, tmp_path: Path) -> None:
    env = app_env(emu.connection_string, tmp_path / "storage")
    env["ORDERSAPP_STORAGE"] = str(tmp_path / "storage")
    port = free_port()
    proc = start([str(BIN / "uvicorn"), "plainapp:app", "--port", str(port), "--workers", "2"], env)
    try:
        wait_until_serving(port, proc)
        for _ in range(4):
            assert request(port, "GET", "/shop/items/5")[0] == 200
        assert request(port, "GET", "/shop/nothing")[0] == 404
    finally:
        out = stop(proc)
    assert _names(emu) == ["GET /<not found>"] + ["GET /shop/items/{item_id}"] * 4, out
    # No FastAPI here: the role default is the module holding the app.
    assert {i["envelope"]["tags"]["ai.cloud.role"] for i in emu.items(type="request")} == {"plainapp"}


USERS_TESTS = """
import os, threading
from fastapi.testclient import TestClient
import ordersapp

with TestClient(ordersapp.app) as client:  # lifespan: start-up configures, shutdown delivers
    assert client.get("/api/orders/1").status_code == 200
    with client.websocket_connect("/ws/lobby") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "lobby: hello"
        ws.send_text("again")
        assert ws.receive_text() == "lobby: again"
        ws.send_text("bye")
client = TestClient(ordersapp.app)  # no lifespan: the first request configures, exit delivers
assert client.get("/sub/ping/1").status_code == 200
print("threads", sorted(t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()))
"""


def _python(code: str, env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=SITE, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_test_client_in_a_users_suite_delivers_with_and_without_lifespan(emu: Emulator, tmp_path: Path) -> None:
    started = time.monotonic()
    out = _python(USERS_TESTS, app_env(emu.connection_string, tmp_path / "storage"))
    assert out.returncode == 0, out.stderr
    assert "threads []" in out.stdout
    assert time.monotonic() - started < 50  # no hang at exit (generous: a busy machine)
    assert _names(emu) == ["GET /api/orders/{order_id}", "GET /sub/ping/{n}", "GET /ws/{room}"]


def test_a_websocket_session_is_one_request_named_by_its_route(emu: Emulator, tmp_path: Path) -> None:
    out = _python(USERS_TESTS, app_env(emu.connection_string, tmp_path / "storage"))
    assert out.returncode == 0, out.stderr
    session = next(i["envelope"] for i in emu.items(type="request")
                   if i["envelope"]["data"]["baseData"]["name"] == "GET /ws/{room}")
    data = session["data"]["baseData"]
    assert data["responseCode"] == "101" and data["success"] is True
    hours, minutes, seconds = data["duration"].split(".", 1)[1].split(":")
    assert float(seconds) >= 0.4  # two answers, each after 0.2 s: the whole session
    items = emu.operation(session["tags"]["ai.operation.id"])
    assert [i["type"] for i in items] == ["request"]  # no per-message send/receive spans


ASGI_TRANSPORT = """
import asyncio, httpx
import fastapi_ai  # imported before the app and FastAPI: the order does not matter
import ordersapp

async def main():
    transport = httpx.ASGITransport(app=ordersapp.app)  # runs no lifespan
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        assert (await client.get("/api/orders/1")).status_code == 200
        assert (await client.get("/nope")).status_code == 404

asyncio.run(main())
"""


def test_httpx_asgi_transport_without_lifespan_delivers_at_exit(emu: Emulator, tmp_path: Path) -> None:
    out = _python(ASGI_TRANSPORT, app_env(emu.connection_string, tmp_path / "storage"))
    assert out.returncode == 0, out.stderr
    assert _names(emu) == ["GET /<not found>", "GET /api/orders/{order_id}"]


def test_a_bad_option_stops_uvicorn_at_start_up_naming_it(tmp_path: Path) -> None:
    env = app_env("InstrumentationKey=00000000-0000-0000-0000-000000000000", tmp_path / "storage",
                  sampling_ratio=2)
    port = free_port()
    proc = start(uvicorn(port), env)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0, out
    assert "sampling_ratio in ApplicationInsightsMiddleware must be from 0.0 to 1.0" in out
    assert "Application startup failed" in out


def test_a_bad_option_fails_test_client_start_up_naming_it(tmp_path: Path) -> None:
    env = app_env("InstrumentationKey=00000000-0000-0000-0000-000000000000", tmp_path / "storage",
                  excluded_rutes=["health"])
    code = "from fastapi.testclient import TestClient\nimport ordersapp\nTestClient(ordersapp.app).__enter__()"
    out = _python(code, env)
    assert out.returncode != 0
    assert "ConfigurationError: ApplicationInsightsMiddleware got an unknown option 'excluded_rutes'; " \
           "did you mean 'excluded_routes'?" in out.stderr


@pytest.mark.parametrize("options, says", [
    ({"enabled": False}, "the enabled option is False"),
    ({}, "no connection string"),
])
def test_off_with_one_warning_and_the_app_still_serves(tmp_path: Path, options: dict, says: str) -> None:
    env = app_env(None, tmp_path / "storage", **options)
    if options:
        env["ORDERSAPP_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    out = _python(USERS_TESTS, env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Application Insights telemetry is off") == 1 and says in out.stderr


BACKGROUND_FAILURE = """
from fastapi.testclient import TestClient
import ordersapp

with TestClient(ordersapp.app, raise_server_exceptions=False) as client:
    assert client.get("/checkout-broken?t=tok-1").status_code == 200
"""


def test_a_background_task_that_raises_is_an_exception_of_its_request(emu: Emulator, tmp_path: Path) -> None:
    out = _python(BACKGROUND_FAILURE, app_env(emu.connection_string, tmp_path / "storage"))
    assert out.returncode == 0, out.stderr
    request = emu.items(type="request")[0]["envelope"]
    assert request["data"]["baseData"]["responseCode"] == "200"  # answered before the task ran
    items = emu.operation(request["tags"]["ai.operation.id"])
    exceptions = [i["envelope"]["data"]["baseData"]["exceptions"][0] for i in items if i["type"] == "exception"]
    assert [e["typeName"] for e in exceptions] == ["LookupError"]
    assert "ledger missing for tok-1" in exceptions[0].get("stack", "")


OUTSIDE = """
import os
from fastapi.testclient import TestClient
import ordersapp
from fastapi_ai import ApplicationInsightsMiddleware

class Hiding:  # a middleware without Starlette's .app attribute
    def __init__(self, app):
        self._inner = app
    async def __call__(self, scope, receive, send):
        await self._inner(scope, receive, send)

ordersapp.app.user_middleware.clear()
ordersapp.app.add_middleware(ApplicationInsightsMiddleware, connection_string=os.environ["ORDERSAPP_CONNECTION_STRING"])
ordersapp.app.add_middleware(Hiding)
with TestClient(ordersapp.app) as client:
    assert client.get("/api/orders/1").status_code == 200
"""


def test_a_middleware_that_hides_ours_from_fastapi_is_a_start_up_warning(emu: Emulator, tmp_path: Path) -> None:
    out = _python(OUTSIDE, app_env(emu.connection_string, tmp_path / "storage"))
    assert out.returncode == 0, out.stderr
    assert "FastAPI's own tracing will also trace each request" in out.stderr
