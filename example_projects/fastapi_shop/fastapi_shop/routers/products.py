"""``/api/products``: the catalogue, and stock asked from the inventory service over HTTP."""

from __future__ import annotations

import logging
import os

import httpx
from fastapi import APIRouter, HTTPException

from fastapi_shop import db

router = APIRouter(prefix="/products", tags=["products"])
log = logging.getLogger("fastapi_shop.products")


@router.get("")
async def list_products():
    rows = await db.query("SELECT id, sku, name, price FROM products ORDER BY id")
    log.info("listed %d products", len(rows))
    return [{"id": r[0], "sku": r[1], "name": r[2], "price": r[3]} for r in rows]


@router.get("/{product_id}")
async def get_product(product_id: int):
    rows = await db.query("SELECT id, sku, name, price FROM products WHERE id = ?", product_id)
    if not rows:
        raise HTTPException(404, "no such product")  # an answer, not an exception item
    r = rows[0]
    return {"id": r[0], "sku": r[1], "name": r[2], "price": r[3]}


@router.get("/{product_id}/stock")
async def get_stock(product_id: int):
    """Asks the inventory API (``INVENTORY_URL``): one distributed trace across both services."""
    base = os.environ.get("INVENTORY_URL", "http://127.0.0.1:8001")
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            reply = await client.get("%s/api/products/%d" % (base.rstrip("/"), product_id))
        except httpx.HTTPError as err:
            log.warning("inventory unreachable: %s", err)
            raise HTTPException(502, "inventory unreachable")
    if reply.status_code == 404:
        raise HTTPException(404, "no such product")
    reply.raise_for_status()
    return {"id": product_id, "stock": reply.json().get("stock"), "source": "inventory"}
