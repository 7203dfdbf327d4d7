"""django_ai wherever Django runs: ASGI under uvicorn, runserver with its autoreloader,
Django's test Client in a user's own tests, management commands; and settings errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from django_site import BIN, SITE, free_port, migrate, request, site_env, start, stop, wait_until_serving


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _names(emu: Emulator) -> list:
    return sorted(i["envelope"]["data"]["baseData"]["name"] for i in emu.items(type="request", limit=1000))


def test_asgi_django_under_uvicorn(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    port = free_port()
    proc = start([str(BIN / "uvicorn"), "testsite.asgi:application", "--port", str(port), "--no-access-log"], env)
    try:
        wait_until_serving(port, proc)
        assert request(port, "GET", "/items/1/")[0] == 200
        assert request(port, "GET", "/fail/")[0] == 500
        assert request(port, "GET", "/no/such/")[0] == 404
        assert request(port, "GET", "/stream/")[0] == 200
    finally:
        out = stop(proc)  # uvicorn re-raises SIGTERM: only our signal handling can flush
    assert _names(emu) == ["GET /<not found>", "GET /fail/", "GET /items/<int:pk>/", "GET /stream/"], out
    fail = next(i["envelope"] for i in emu.items(type="request") if i["envelope"]["data"]["baseData"]["name"] == "GET /fail/")
    assert fail["data"]["baseData"]["responseCode"] == "500"
    ops = emu.operation(fail["tags"]["ai.operation.id"])
    assert [i["type"] for i in ops].count("exception") == 1
    deps = emu.items(type="dependency", limit=100)
    assert deps and all(d["envelope"]["tags"]["ai.cloud.role"] == "testsite" for d in deps)
    stream = next(i["envelope"] for i in emu.items(type="request") if i["envelope"]["data"]["baseData"]["name"] == "GET /stream/")
    seconds = float(stream["data"]["baseData"]["duration"].rsplit(":", 1)[1])
    assert seconds >= 0.9  # the body (3 x 0.3 s) is inside the request under ASGI too


def _threads(pid: int) -> int:
    return len(os.listdir("/proc/%d/task" % pid))


def test_runserver_autoreloader_watcher_starts_nothing_and_the_served_child_sends(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    port = free_port()
    proc = start([sys.executable, "manage.py", "runserver", "127.0.0.1:%d" % port], env)
    try:
        wait_until_serving(port, proc)
        assert request(port, "GET", "/items/1/")[0] == 200
        emu.wait_for_items(count=1, timeout=30, type="request")  # the served child delivers by itself
        # The watcher (this Popen) only restarts the child: it configured nothing, so it has no
        # export thread (a configured Django process starts one for its metrics at once).
        assert _threads(proc.pid) == 1
    finally:
        out = stop(proc, signal.SIGINT)  # Ctrl-C
    assert _names(emu) == ["GET /items/<int:pk>/"], out


def test_runserver_noreload_serves_and_sends(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    port = free_port()
    proc = start([sys.executable, "manage.py", "runserver", "--noreload", "127.0.0.1:%d" % port], env)
    try:
        wait_until_serving(port, proc)
        assert request(port, "GET", "/orders/")[0] == 200
    finally:
        out = stop(proc, signal.SIGINT)  # Ctrl-C right after the request: it must still arrive
    assert _names(emu) == ["GET /orders/"], out


TEST_CLIENT = """
import django, os, sys, threading, time
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
assert client.get("/items/1/").status_code == 200
assert client.get("/orders/").status_code == 200
print("threads", sorted(t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()))
"""


def test_django_test_client_in_a_users_suite_exits_promptly_and_delivers(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", TEST_CLIENT], cwd=SITE, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "threads []" in out.stdout  # nothing that could keep the interpreter from exiting
    assert time.monotonic() - started < 50  # no hang at exit (generous: a busy machine)
    assert _names(emu) == ["GET /items/<int:pk>/", "GET /orders/"]  # delivered at exit


def test_a_project_instrumented_with_djangoinstrumentor_too_sends_each_request_once(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    script = "from opentelemetry.instrumentation.django import DjangoInstrumentor\nDjangoInstrumentor().instrument()\n"
    out = subprocess.run([sys.executable, "-c", script + TEST_CLIENT], cwd=SITE, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(emu.items(type="request", limit=100)) == 2  # not a second, in-process span per request
    assert emu.items(type="dependency", q="InProc") == []
    assert "already instrumented by DjangoInstrumentor" in out.stderr


def test_a_bad_setting_is_a_system_check_error_and_stops_a_server(tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", None, tmp_path / "storage", SAMPLING_RATIO=2)
    env["TESTSITE_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    check = subprocess.run([sys.executable, "manage.py", "check"], cwd=SITE, env=env, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 1
    assert "(django_ai.E001) APPLICATION_INSIGHTS['SAMPLING_RATIO'] in settings must be from 0.0 to 1.0" in check.stderr

    port = free_port()
    proc = start([str(BIN / "gunicorn"), "-b", "127.0.0.1:%d" % port, "testsite.wsgi"], env)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0
    assert "ImproperlyConfigured: APPLICATION_INSIGHTS['SAMPLING_RATIO']" in out


@pytest.mark.parametrize("settings, says", [
    ({"ENABLED": False}, "the enabled option is False"),
    ({}, "no connection string"),
])
def test_off_with_one_warning_and_the_site_still_serves(tmp_path: Path, settings: dict, says: str) -> None:
    env = site_env(tmp_path / "site.db", None, tmp_path / "storage", **settings)
    if settings:
        env["TESTSITE_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    migrate(env)
    out = subprocess.run([sys.executable, "-c", TEST_CLIENT], cwd=SITE, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Application Insights telemetry is off") == 1 and says in out.stderr


def test_a_management_command_records_its_queries(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          "from shop.models import Item; print(Item.objects.count())"],
                         cwd=SITE, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    deps = emu.wait_for_items(count=1, timeout=30, type="dependency")
    assert any("shop_item" in d["envelope"]["data"]["baseData"].get("data", "") for d in deps)
