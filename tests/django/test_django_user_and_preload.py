"""The user tag by the USER_ID setting, read after Django's authentication; and gunicorn
without --preload (each worker sets itself up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from django_site import BIN, SITE, free_port, migrate, request, site_env, start, stop, wait_until_serving

LOGGED_IN = """
import django
django.setup()
from django.test import Client
client = Client()
assert client.get("/orders/").status_code == 200  # before login: anonymous
assert client.login(username="alice", password="wonderland")
assert client.get("/account/").status_code == 200
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


@pytest.mark.parametrize("setting, expected", [
    ({}, "1"),  # the default: alice's primary key
    ({"USER_ID": False}, None),
    ({"USER_ID": "testsite.users.tenant_user"}, "tenant-7/alice"),
])
def test_user_id_setting(emu: Emulator, tmp_path: Path, setting: dict, expected: object) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage", **setting)
    migrate(env)
    out = subprocess.run([sys.executable, "-c", LOGGED_IN], cwd=SITE, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    requests = {i["envelope"]["data"]["baseData"]["name"]: i["envelope"]["tags"]
                for i in emu.wait_for_items(count=2, timeout=30, type="request")}
    assert "ai.user.authUserId" not in requests["GET /orders/"]
    assert requests["GET /account/"].get("ai.user.authUserId") == expected


def test_gunicorn_without_preload(emu: Emulator, tmp_path: Path) -> None:
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    migrate(env)
    port = free_port()
    proc = start([str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:%d" % port, "testsite.wsgi"], env)
    try:
        wait_until_serving(port, proc)
        for _ in range(10):  # without TRUSTED_PROXIES, a client's X-Forwarded-For counts for nothing
            assert request(port, "GET", "/items/1/", headers={"X-Forwarded-For": "6.6.6.6"})[0] == 200
    finally:
        out = stop(proc)  # right after the last request: the stop must flush it
    requests = [i["envelope"] for i in emu.items(type="request", limit=100)]
    assert [r["data"]["baseData"]["name"] for r in requests] == ["GET /items/<int:pk>/"] * 10, out
    assert {r["tags"]["ai.location.ip"] for r in requests} == {"127.0.0.1"}
