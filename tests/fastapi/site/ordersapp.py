"""A small FastAPI app the fastapi_ai tests serve with real servers (uvicorn, gunicorn).

Options come from ``ORDERSAPP_AI`` (JSON, canonical option names) and the connection string
from ``ORDERSAPP_CONNECTION_STRING``; ``ORDERSAPP_USER=callable`` reads the user from
``request.state`` instead of Starlette's ``AuthenticationMiddleware``;
``ORDERSAPP_AUTH_OUTSIDE=1`` adds that middleware outside ours instead of inside.
"""

import asyncio
import json
import logging
import os
import sqlite3
import time

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import StreamingResponse
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware.authentication import AuthenticationMiddleware

from fastapi_ai import ApplicationInsightsMiddleware

log = logging.getLogger("ordersapp")
DB = os.environ.get("ORDERSAPP_DB", ":memory:")


def query(sql: str, *args):
    with sqlite3.connect(DB) as conn:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT)")
        cursor.execute("INSERT OR IGNORE INTO orders VALUES (1, 'tea')")
        cursor.execute(sql, args)
        return cursor.fetchall()


class BearerBackend(AuthenticationBackend):
    async def authenticate(self, conn):
        token = conn.headers.get("authorization", "")
        if token.startswith("Bearer "):
            return AuthCredentials(["authenticated"]), SimpleUser(token[len("Bearer "):])
        return None


def user_from_state(request: Request):
    return getattr(request.state, "user", None)


async def signed_in(request: Request):
    """An app that authenticates in a dependency."""
    request.state.user = request.headers.get("x-user")


app = FastAPI(title=os.environ.get("ORDERSAPP_TITLE", "orders-api"))
orders = APIRouter(prefix="/orders")


@orders.get("/{order_id}", name="order")
def get_order(order_id: int, t: str = ""):
    rows = query("SELECT id, item FROM orders WHERE id = ?", order_id)
    if not rows:
        raise HTTPException(404, "no such order")
    return {"id": rows[0][0], "item": rows[0][1]}


@orders.get("/{order_id}/broken")
def broken_order(order_id: int, t: str = ""):
    raise HTTPException(500, "the ledger is down")


app.include_router(orders, prefix="/api")


@app.get("/fail")
def fail(t: str = ""):
    raise RuntimeError("the teapot broke")


@app.get("/health", name="health")
def health(t: str = ""):
    query("SELECT 1")
    return {"status": "ok"}


@app.get("/skip/this")
def skipped(t: str = ""):
    query("SELECT 2")
    return {"skipped": True}


@app.get("/stream")
def stream(t: str = ""):
    def chunks():
        for i in range(3):
            time.sleep(0.3)
            yield b"chunk %d\n" % i

    return StreamingResponse(chunks(), media_type="text/plain")


def slow_bookkeeping(token: str) -> None:
    time.sleep(0.6)
    query("SELECT count(*) FROM orders")
    log.warning("bookkeeping done %s", token)


@app.get("/checkout")
def checkout(tasks: BackgroundTasks, t: str = ""):
    tasks.add_task(slow_bookkeeping, t)
    return {"queued": True}


def failing_bookkeeping(token: str) -> None:
    raise LookupError("ledger missing for %s" % token)


@app.get("/checkout-broken")
def checkout_broken(tasks: BackgroundTasks, t: str = ""):
    tasks.add_task(failing_bookkeeping, t)
    return {"queued": True}


@app.get("/account")
def account(request: Request, t: str = ""):
    user = request.scope.get("user")
    return {"user": user.display_name if user is not None and user.is_authenticated else None}


@app.get("/me", dependencies=[Depends(signed_in)])
def me(request: Request, t: str = ""):
    return {"user": request.state.user}


@app.get("/log")
def logs(t: str = ""):
    log.warning("order note %s", t)
    return {}


sub = FastAPI()


@sub.get("/ping/{n}")
def ping(n: int, t: str = ""):
    return {"pong": n}


app.mount("/sub", sub)


@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str):
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        if text == "bye":
            await websocket.close()
            return
        await asyncio.sleep(0.2)
        await websocket.send_text("%s: %s" % (room, text))


options = dict(json.loads(os.environ.get("ORDERSAPP_AI", "{}")))
options.setdefault("connection_string", os.environ.get("ORDERSAPP_CONNECTION_STRING"))
if os.environ.get("ORDERSAPP_USER") == "callable":
    options["user_id"] = user_from_state
if os.environ.get("ORDERSAPP_AUTH_OUTSIDE"):
    app.add_middleware(ApplicationInsightsMiddleware, **options)
    app.add_middleware(AuthenticationMiddleware, backend=BearerBackend())
else:
    app.add_middleware(AuthenticationMiddleware, backend=BearerBackend())
    app.add_middleware(ApplicationInsightsMiddleware, **options)
