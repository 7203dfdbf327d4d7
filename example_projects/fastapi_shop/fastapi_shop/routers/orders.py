"""``/api/orders``: placing an order (signed in) and its confirmation in a background task."""

from __future__ import annotations

import asyncio
import logging

import ai_core
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException

from fastapi_shop import db
from fastapi_shop.auth import signed_in

router = APIRouter(prefix="/orders", tags=["orders"])
log = logging.getLogger("fastapi_shop.orders")


async def confirm(order_id: int) -> None:
    """After the response: the request's duration does not include it, its operation does."""
    await asyncio.sleep(0.3)  # e.g. an e-mail
    await db.query("UPDATE orders SET confirmed = 1 WHERE id = ?", order_id)
    log.info("order %d confirmed", order_id)


@router.post("/{product_id}", status_code=201)
async def place_order(product_id: int, tasks: BackgroundTasks, user: str = Depends(signed_in)):
    if not await db.query("SELECT id FROM products WHERE id = ?", product_id):
        raise HTTPException(404, "no such product")
    order_id = (await db.query("INSERT INTO orders (user, product_id) VALUES (?, ?)", user, product_id))[0]
    tasks.add_task(confirm, order_id)
    ai_core.track_event("OrderPlaced", properties={"product": str(product_id)})
    log.info("order %d placed by %s", order_id, user)
    return {"order": order_id}


@router.get("/{order_id}")
async def get_order(order_id: int, user: str = Depends(signed_in)):
    rows = await db.query("SELECT id, product_id, confirmed FROM orders WHERE id = ? AND user = ?", order_id, user)
    if not rows:
        raise HTTPException(404, "no such order")
    return {"order": rows[0][0], "product": rows[0][1], "confirmed": bool(rows[0][2])}
