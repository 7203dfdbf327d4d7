"""The FastAPI example shop (example_projects/fastapi_shop) under uvicorn --workers 2, calling
the inventory stand-in: one distributed trace across both roles, as the demo shows it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from fastapi_site import BIN, ROOT, app_env, free_port, request, start, stop, wait_until_serving

SHOP = ROOT / "example_projects" / "fastapi_shop"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fastapi-shop")
    with Emulator(port=0, db=":memory:") as emu:
        env = app_env(None, tmp / "storage")
        inventory_port, shop_port = free_port(), free_port()
        inventory = start([sys.executable, str(ROOT / "example_projects/standin/inventory.py"), "--port",
                           str(inventory_port), "--connection-string", emu.connection_string], env)
        env.update(APPLICATIONINSIGHTS_CONNECTION_STRING=emu.connection_string, FASTAPI_SHOP_DB=str(tmp / "shop.db"),
                   FASTAPI_SHOP_STORAGE_DIR=str(tmp / "storage"), INVENTORY_URL="http://127.0.0.1:%d" % inventory_port)
        server = start([str(BIN / "uvicorn"), "--app-dir", str(SHOP), "fastapi_shop.main:app", "--workers", "2",
                        "--port", str(shop_port), "--no-access-log"], env)
        answers = {}
        try:
            wait_until_serving(inventory_port, inventory)
            wait_until_serving(shop_port, server)
            answers["stock"] = request(shop_port, "GET", "/api/products/4/stock")[0]
            status, headers, _ = request(shop_port, "POST", "/login", body=b"user=alice",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            cookie = headers["set-cookie"].split(";", 1)[0]
            answers["order"] = request(shop_port, "POST", "/api/orders/2", headers={"Cookie": cookie})[0]
            answers["health"] = request(shop_port, "GET", "/health")[0]
            answers["broken"] = request(shop_port, "GET", "/api/reports/broken")[0]
        finally:
            out = stop(server) + stop(inventory)
        assert answers == {"stock": 200, "order": 201, "health": 200, "broken": 500}, out
        yield emu


def _request(emu: Emulator, role: str, name: str) -> dict:
    found = [i["envelope"] for i in emu.items(type="request", limit=1000)
             if i["envelope"]["tags"]["ai.cloud.role"] == role and i["envelope"]["data"]["baseData"]["name"] == name]
    assert len(found) == 1, (role, name, found)
    return found[0]


def test_a_call_to_inventory_is_one_operation_across_both_roles(shop: Emulator) -> None:
    ours = _request(shop, "fastapi-shop", "GET /api/products/{product_id}/stock")
    theirs = _request(shop, "inventory", "GET /api/products/4")
    assert theirs["tags"]["ai.operation.id"] == ours["tags"]["ai.operation.id"]
    items = [i["envelope"] for i in shop.operation(ours["tags"]["ai.operation.id"])]
    call = [e for e in items if e["data"]["baseType"] == "RemoteDependencyData" and e["data"]["baseData"]["type"] == "HTTP"]
    assert len(call) == 1 and call[0]["tags"]["ai.cloud.role"] == "fastapi-shop"
    assert theirs["tags"]["ai.operation.parentId"] == call[0]["data"]["baseData"]["id"]


def test_an_order_carries_the_user_and_its_background_confirmation(shop: Emulator) -> None:
    order = _request(shop, "fastapi-shop", "POST /api/orders/{product_id}")
    assert order["tags"]["ai.user.authUserId"] == "alice"
    items = [i["envelope"] for i in shop.operation(order["tags"]["ai.operation.id"])]
    messages = [e["data"]["baseData"]["message"] for e in items if e["data"]["baseType"] == "MessageData"]
    assert any(m.endswith("confirmed") for m in messages), messages


def test_health_is_excluded_and_the_broken_report_is_one_exception(shop: Emulator) -> None:
    names = [i["envelope"]["data"]["baseData"]["name"] for i in shop.items(type="request", limit=1000)]
    assert "GET /health" not in names
    broken = _request(shop, "fastapi-shop", "GET /api/reports/broken")
    assert broken["data"]["baseData"]["responseCode"] == "500"
    items = [i["envelope"] for i in shop.operation(broken["tags"]["ai.operation.id"])]
    assert [e["data"]["baseType"] for e in items].count("ExceptionData") == 1
