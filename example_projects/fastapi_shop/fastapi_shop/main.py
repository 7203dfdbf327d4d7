"""The FastAPI example shop, role ``fastapi-shop`` (its title).

Its only telemetry set-up is the ``add_middleware`` call below; the connection string comes
from ``APPLICATIONINSIGHTS_CONNECTION_STRING`` (unset: the shop runs with telemetry off and
says so once).
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from fastapi_ai import ApplicationInsightsMiddleware
from fastapi_shop import db
from fastapi_shop.auth import current_user_id, optional_user
from fastapi_shop.routers import orders, products


# uvicorn configures only its own loggers: the shop's INFO records need their level set.
logging.getLogger("fastapi_shop").setLevel(logging.INFO)


@asynccontextmanager
async def lifespan(app: FastAPI):
    db.create()
    yield


app = FastAPI(title="fastapi-shop", lifespan=lifespan, dependencies=[Depends(optional_user)])
app.add_middleware(
    ApplicationInsightsMiddleware,
    excluded_routes=["health"],  # the route's name; "/health" (its path template) works too
    user_id=current_user_id,  # the user the auth dependency put on request.state
    logging_level="INFO",
    storage_directory=os.environ.get("FASTAPI_SHOP_STORAGE_DIR"),
)

api = APIRouter(prefix="/api")
api.include_router(products.router)
api.include_router(orders.router)
app.include_router(api)


@app.get("/health", name="health")
async def health():
    await db.query("SELECT 1")  # excluded: not even this query is sent
    return {"status": "ok"}


@app.post("/login")
async def login(request: Request, response: Response):
    """Form field ``user``: a cookie every later request is signed in with."""
    user = (parse_qs((await request.body()).decode()).get("user") or [""])[0].strip()
    response.set_cookie("user", user, httponly=True)
    request.state.user = user or None
    return {"user": user}


@app.get("/api/reports/broken")
async def broken_report():
    raise RuntimeError("the report generator is out of paper")  # a 500 and one exception item
