"""Route matching answers a request that comes again from its app's cache (fastapi_ai.routes):
the same names as matching afresh, for every kind of route, and never a stale answer after the
app's route list changed."""

from __future__ import annotations

from typing import Any, List, Tuple

from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route

from fastapi_ai import routes as routes_module
from fastapi_ai.routes import match_request


def _scope(path: str, method: str = "GET", kind: str = "http", host: bytes = b"testserver",
           root_path: str = "") -> dict:
    return {"type": kind, "method": method, "path": path, "root_path": root_path, "raw_path": path.encode(),
            "query_string": b"", "headers": [(b"host", host)]}


def _answer(app: Any, scope: dict) -> Tuple[Any, Tuple[str, ...]]:
    found = match_request(app, scope)
    return found.template, found.names


def _fresh(app: Any, scope: dict) -> Tuple[Any, Tuple[str, ...]]:
    routes_module._APPS.pop(app, None)
    return _answer(app, scope)


def _shop() -> FastAPI:
    app = FastAPI()
    orders = APIRouter(prefix="/api/orders")

    @orders.get("/{order_id}", name="order")
    async def order(order_id: int) -> dict:
        return {}

    @orders.post("/", name="new_order")
    async def new_order() -> dict:
        return {}

    @app.get("/items/", name="items")
    async def items() -> dict:
        return {}

    @app.get("/thing", name="read_thing")
    async def read_thing() -> dict:
        return {}

    @app.put("/thing", name="replace_thing")
    async def replace_thing() -> dict:
        return {}

    @app.get("/health", name="health")
    async def health() -> dict:
        return {}

    app.include_router(orders)
    inner = Starlette(routes=[Route("/file/{name}", PlainTextResponse, name="file")])
    app.mount("/static", inner, name="static")
    return app


REQUESTS: List[dict] = [
    _scope("/api/orders/1"), _scope("/api/orders/2"), _scope("/api/orders/"), _scope("/api/orders/", "POST"),
    _scope("/api/orders/1", "DELETE"),  # 405: still the route's name
    _scope("/items"),  # redirected to /items/ by redirect_slashes
    _scope("/items/"), _scope("/health"), _scope("/static/file/a.txt"), _scope("/nothing/here"),
    _scope("/health", kind="websocket"), _scope("/health", root_path="/prefix"),
    _scope("/thing"), _scope("/thing", "PUT"),
]


def test_answers_from_the_cache_are_the_answers_of_a_fresh_match() -> None:
    app = _shop()
    fresh = [_fresh(app, scope) for scope in REQUESTS]
    routes_module._APPS.pop(app, None)
    first = [_answer(app, scope) for scope in REQUESTS]
    again = [_answer(app, scope) for scope in REQUESTS]  # every one from the cache now
    assert first == again == fresh
    assert fresh[0] == ("/api/orders/{order_id}", ("/api/orders/{order_id}", "order"))
    assert fresh[4][0] == "/api/orders/{order_id}"
    assert fresh[5][0] == fresh[6][0] == "/items/"
    assert fresh[8] == ("/static/file/{name}", ("/static/file/{name}", "file", "static:file"))
    assert fresh[9][0] is None
    assert (fresh[-2][1][1], fresh[-1][1][1]) == ("read_thing", "replace_thing")
    assert len(routes_module._APPS[app].answers) == len(REQUESTS)


def test_a_route_added_later_is_matched_at_once() -> None:
    app = _shop()
    assert _answer(app, _scope("/later"))[0] is None

    @app.get("/later", name="later")
    async def later() -> dict:
        return {}

    assert _answer(app, _scope("/later")) == ("/later", ("/later", "later"))


def test_routes_by_host_are_told_apart_by_the_host_header() -> None:
    app = Starlette(routes=[
        Host("api.example.com", app=Starlette(routes=[Route("/", PlainTextResponse, name="api_home")]), name="api"),
        Route("/", PlainTextResponse, name="home"),
    ])
    assert _answer(app, _scope("/", host=b"api.example.com"))[1] == ("/", "api_home", "api:api_home")
    assert _answer(app, _scope("/", host=b"www.example.com"))[1] == ("/", "home")
    assert _answer(app, _scope("/", host=b"api.example.com"))[1] == ("/", "api_home", "api:api_home")


def test_many_distinct_paths_keep_the_cache_bounded_and_the_answers_right(monkeypatch: Any) -> None:
    monkeypatch.setattr(routes_module, "CACHE_SIZE", 8)
    app = _shop()
    for n in range(50):
        assert _answer(app, _scope("/api/orders/%d" % n))[0] == "/api/orders/{order_id}"
        assert len(routes_module._APPS[app].answers) <= 8
