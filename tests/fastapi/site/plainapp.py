"""A plain Starlette app (no FastAPI) with the middleware, for the one-span-per-request test."""

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from fastapi_ai import ApplicationInsightsMiddleware


async def item(request):
    return PlainTextResponse("item %s" % request.path_params["item_id"])


app = Starlette(
    routes=[Mount("/shop", routes=[Route("/items/{item_id:int}", item, name="item")], name="shop")],
    middleware=[Middleware(ApplicationInsightsMiddleware, connection_string=os.environ["ORDERSAPP_CONNECTION_STRING"],
                           storage_directory=os.environ.get("ORDERSAPP_STORAGE"))],
)
