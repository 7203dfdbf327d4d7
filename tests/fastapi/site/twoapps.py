"""Two FastAPI apps in one uvicorn process, each with ApplicationInsightsMiddleware and a role of
its own, behind a plain ASGI dispatcher (``/orders/...`` to the back office, the rest to the
shop). Only one of them gets the server's lifespan (``TWOAPPS_LIFESPAN``: ``shop`` or
``office``): the other starts at its first request."""

import logging
import os
import sqlite3

from fastapi import FastAPI

from fastapi_ai import ApplicationInsightsMiddleware

OPTIONS = dict(connection_string=os.environ["TWOAPPS_CONNECTION_STRING"], storage_directory=os.environ["TWOAPPS_STORAGE"])


def make(title: str, role: str, prefix: str) -> FastAPI:
    app = FastAPI(title=title)

    @app.get(prefix + "/{key}")
    def one(key: int) -> dict:
        conn = sqlite3.connect(":memory:")
        conn.execute("SELECT 1").fetchall()
        conn.close()
        logging.getLogger(title).warning("served %s", key)
        return {"key": key}

    app.add_middleware(ApplicationInsightsMiddleware, role_name=role, **OPTIONS)
    return app


shop = make("Shop", "shop", "/items")
office = make("Office", "back-office", "/orders")
_LIFESPAN = office if os.environ.get("TWOAPPS_LIFESPAN") == "office" else shop


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _LIFESPAN(scope, receive, send)
        return
    target = office if scope.get("path", "").startswith("/orders") else shop
    await target(scope, receive, send)
