"""flask_ai wherever Flask runs: gunicorn sync and gthread workers with and without --preload,
the development server with and without its reloader, and a bad setting at start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from ai_core.emulator import Emulator
from flask_site import BIN, SITE, duration_s, free_port, init_db, request, site_env, start, stop, wait_until_serving


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _names(emu: Emulator) -> List[str]:
    return sorted(i["envelope"]["data"]["baseData"]["name"] for i in emu.items(type="request", limit=1000))


@pytest.mark.parametrize("worker, preload", [("sync", False), ("gthread", True), ("gthread", False)])
def test_gunicorn_workers_send_every_request_when_stopped_right_after(
        emu: Emulator, tmp_path: Path, worker: str, preload: bool) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    init_db(env)
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "-w", "2", "-k", worker, "-b", "127.0.0.1:%d" % port]
    if worker == "gthread":
        cmd += ["--threads", "4"]
    if preload:
        cmd.append("--preload")
    proc = start(cmd + ["flasksite.wsgi:application"], env)
    try:
        wait_until_serving(port, proc)
        for _ in range(8):
            assert request(port, "GET", "/items/1")[0] == 200
        assert request(port, "GET", "/stream-plain")[0] == 200
    finally:
        out = stop(proc)  # right after the last request: the stop must flush it
    assert _names(emu) == ["GET /items/<int:item_id>"] * 8 + ["GET /stream-plain"], out
    stream = next(i["envelope"] for i in emu.items(type="request") if i["envelope"]["data"]["baseData"]["name"]
                  == "GET /stream-plain")
    assert duration_s(stream) >= 0.9
    deps = emu.items(type="dependency", limit=1000)
    assert len(deps) >= 8 and all(d["envelope"]["tags"]["ai.operation.name"] == "GET /items/<int:item_id>"
                                  for d in deps)


def _threads(pid: int) -> int:
    return len(os.listdir("/proc/%d/task" % pid))


def test_dev_server_reloader_watcher_records_nothing_and_the_served_child_sends(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    init_db(env)
    port = free_port()
    # `flask run --debug`: the reloader's watcher imports the app too, then runs the served child.
    proc = start([str(BIN / "flask"), "--app", "flasksite", "run", "--debug", "-p", str(port)], env)
    try:
        wait_until_serving(port, proc)
        assert request(port, "GET", "/items/1")[0] == 200
        assert request(port, "GET", "/fail")[0] == 500  # debug mode: Flask re-raises it to the debugger
        emu.wait_for_items(count=2, timeout=30, type="request")  # the served child delivers by itself
        # The watcher (this Popen) configured nothing: no export thread, and its own INFO line
        # (" * Restarting with stat", at LOGGING_LEVEL INFO) was not exported.
        assert _threads(proc.pid) == 1
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
        out = stop(proc, signal.SIGINT)
    assert _names(emu) == ["GET /fail", "GET /items/<int:item_id>"], out
    assert len(emu.items(type="exception")) == 1
    assert not [t for t in emu.items(type="trace", limit=1000)
                if "Restarting with" in t["envelope"]["data"]["baseData"]["message"]]


def test_dev_server_without_reloader_sends_what_it_served_before_ctrl_c(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    init_db(env)
    port = free_port()
    proc = start([str(BIN / "flask"), "--app", "flasksite", "run", "-p", str(port)], env)
    try:
        wait_until_serving(port, proc)
        assert request(port, "GET", "/orders")[0] == 200
        assert request(port, "GET", "/fail")[0] == 500
    finally:
        out = stop(proc, signal.SIGINT)  # Ctrl-C right after the request: it must still arrive
    assert _names(emu) == ["GET /fail", "GET /orders"], out
    assert len(emu.items(type="exception")) == 1


def test_a_bad_setting_stops_start_up_naming_the_config_key(tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", None, tmp_path / "storage", SAMPLING_RATIO=2)
    env["FLASKSITE_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    port = free_port()
    proc = start([str(BIN / "gunicorn"), "-b", "127.0.0.1:%d" % port, "flasksite.wsgi:application"], env)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0
    assert ("ConfigurationError: app.config['APPLICATION_INSIGHTS_SAMPLING_RATIO'] in the Flask app must be "
            "from 0.0 to 1.0") in out


@pytest.mark.parametrize("setting, says", [
    ({"ENABLED": False}, "the enabled option is False"),
    ({}, "no connection string"),
])
def test_off_with_one_warning_and_the_site_still_serves(tmp_path: Path, setting: dict, says: str) -> None:
    env = site_env(tmp_path / "site.db", None, tmp_path / "storage", **setting)
    if setting:
        env["FLASKSITE_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    init_db(env)
    code = ("from flasksite.wsgi import shop, admin\n"
            "assert shop.test_client().get('/items/1').status_code == 200\n"
            "assert admin.test_client().get('/fail').status_code == 500\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=SITE, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("Application Insights telemetry is off") == 1 and says in out.stderr
