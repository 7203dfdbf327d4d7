"""The Flask example shop (example_projects/flask_shop) under gunicorn with two workers,
calling the inventory stand-in: what the demo shows, checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from flask_site import BIN, free_port, request, stop, wait_until_serving

EXAMPLES = Path(__file__).resolve().parents[2] / "example_projects"


def _start(cmd: list, env: dict) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=EXAMPLES, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("flask-shop")
    with Emulator(port=0, db=":memory:") as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "FLASK_"))}
        env["FLASK_DATABASE"] = str(tmp / "shop.sqlite3")
        # Offline storage of this run only: nothing left over from another test is drained here.
        env["FLASK_APPLICATION_INSIGHTS_STORAGE_DIRECTORY"] = str(tmp / "storage")
        prepared = subprocess.run([str(BIN / "flask"), "--app", "flask_shop", "init-db"], cwd=EXAMPLES, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        inventory_port, shop_port = free_port(), free_port()
        inventory = _start([sys.executable, str(EXAMPLES / "standin" / "inventory.py"), "--port", str(inventory_port),
                            "--connection-string", emu.connection_string], env)
        env.update(APPLICATIONINSIGHTS_CONNECTION_STRING=emu.connection_string,
                   FLASK_INVENTORY_URL="http://127.0.0.1:%d" % inventory_port)
        server = _start([str(BIN / "gunicorn"), "-w", "2", "-b", "127.0.0.1:%d" % shop_port, "flask_shop:create_app()"],
                        env)
        answers = {}
        try:
            wait_until_serving(inventory_port, inventory)
            wait_until_serving(shop_port, server)
            answers["list"] = request(shop_port, "GET", "/")[0]
            answers["low"] = request(shop_port, "GET", "/products/4")[0]
            answers["unknown"] = request(shop_port, "GET", "/products/99")[0]
            answers["stock"] = request(shop_port, "GET", "/api/stock/4")[0]
            answers["anonymous"] = request(shop_port, "GET", "/account")[0]
            status, headers, _ = request(shop_port, "POST", "/login", body=b"username=alice&password=wonderland",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            answers["login"] = status
            cookie = headers["set-cookie"].split(";", 1)[0]
            answers["account"] = request(shop_port, "GET", "/account", headers={"Cookie": cookie})[0]
            answers["health"] = request(shop_port, "GET", "/health")[0]
            answers["fail"] = request(shop_port, "GET", "/fail")[0]
        finally:
            out = stop(server) + stop(inventory)
        assert answers == {"list": 200, "low": 200, "unknown": 404, "stock": 200, "anonymous": 302, "login": 302,
                           "account": 200, "health": 200, "fail": 500}, out
        yield emu


def _request(emu: Emulator, role: str, name: str) -> dict:
    found = [i["envelope"] for i in emu.items(type="request", limit=1000)
             if i["envelope"]["tags"]["ai.cloud.role"] == role and i["envelope"]["data"]["baseData"]["name"] == name]
    assert len(found) == 1, (role, name, found)
    return found[0]


def _operation(emu: Emulator, request: dict) -> list:
    return [i["envelope"] for i in emu.operation(request["tags"]["ai.operation.id"])]


def test_requests_are_named_by_url_rule(shop: Emulator) -> None:
    names = sorted(i["envelope"]["data"]["baseData"]["name"] for i in shop.items(type="request", role="flask-shop"))
    assert names == ["GET /", "GET /account", "GET /account", "GET /api/stock/<int:product_id>", "GET /fail",
                     "GET /products/<int:product_id>", "GET /products/<int:product_id>", "POST /login"]


def test_a_call_to_inventory_is_one_operation_across_both_roles(shop: Emulator) -> None:
    ours = _request(shop, "flask-shop", "GET /api/stock/<int:product_id>")
    theirs = _request(shop, "inventory", "GET /api/products/4")
    assert theirs["tags"]["ai.operation.id"] == ours["tags"]["ai.operation.id"]
    call = [e for e in _operation(shop, ours)
            if e["data"]["baseType"] == "RemoteDependencyData" and e["data"]["baseData"]["type"] == "HTTP"]
    assert len(call) == 1 and call[0]["tags"]["ai.cloud.role"] == "flask-shop"
    assert theirs["tags"]["ai.operation.parentId"] == call[0]["data"]["baseData"]["id"]


def test_sign_in_is_an_event_and_the_user_follows_the_session(shop: Emulator) -> None:
    events = [i["envelope"] for i in shop.items(type="event", role="flask-shop")]
    assert [e["data"]["baseData"]["name"] for e in events] == ["UserLoggedIn"]
    accounts = [i["envelope"] for i in shop.items(type="request", role="flask-shop")
                if i["envelope"]["data"]["baseData"]["name"] == "GET /account"]
    assert sorted(a["tags"].get("ai.user.authUserId", "-") for a in accounts) == ["-", "1"]


def test_health_is_excluded_and_the_failing_page_is_one_exception(shop: Emulator) -> None:
    names = [i["envelope"]["data"]["baseData"]["name"] for i in shop.items(type="request", limit=1000)]
    assert "GET /health" not in names
    fail = _request(shop, "flask-shop", "GET /fail")
    assert fail["data"]["baseData"]["responseCode"] == "500"
    assert [e["data"]["baseType"] for e in _operation(shop, fail)].count("ExceptionData") == 1


def test_sql_dependencies_and_a_low_stock_warning(shop: Emulator) -> None:
    low = next(i["envelope"] for i in shop.items(type="request", role="flask-shop")
               if i["envelope"]["data"]["baseData"]["name"] == "GET /products/<int:product_id>"
               and i["envelope"]["data"]["baseData"]["responseCode"] == "200")
    items = _operation(shop, low)
    assert any(e["data"]["baseType"] == "RemoteDependencyData" and e["data"]["baseData"]["type"] == "SQL" for e in items)
    assert [e["data"]["baseData"]["message"] for e in items if e["data"]["baseType"] == "MessageData"] == [
        "low stock: Matcha has 3 left"]
    listed = _request(shop, "flask-shop", "GET /")
    assert [e["data"]["baseData"]["message"] for e in _operation(shop, listed)
            if e["data"]["baseType"] == "MessageData"] == ["listed 4 products"]  # INFO, as configured
