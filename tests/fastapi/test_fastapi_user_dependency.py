"""A FastAPI app that authenticates in a dependency (``Depends(get_current_user)``, as the
full-stack FastAPI template does) and keeps the user on ``request.state``: the README's
example, with the ``user_id`` callable returning the user object itself."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

APP = """
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from fastapi_ai import ApplicationInsightsMiddleware


@dataclass
class User:
    id: uuid.UUID
    email: str


USERS = {{"token-alice": User(uuid.UUID("5d1a4f0e-8f37-4c54-9d9b-0d2a3e1b6c11"), "alice@example.com")}}


def get_current_user(request: Request) -> User:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    user = USERS.get(token)
    if user is None:
        raise HTTPException(status_code=401)
    request.state.user = user  # where the telemetry reads it
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]

app = FastAPI(title="items")
app.add_middleware(
    ApplicationInsightsMiddleware,
    connection_string={cs!r},
    disable_offline_storage=True,
    user_id=lambda request: getattr(request.state, "user", None),
)


@app.get("/items/{{item_id}}")
def read_item(item_id: int, current_user: CurrentUser) -> dict:
    return {{"id": item_id, "owner": current_user.email}}


with TestClient(app) as client:  # the lifespan's shutdown delivers what was recorded
    assert client.get("/items/1", headers={{"Authorization": "Bearer token-alice"}}).status_code == 200
    assert client.get("/items/2").status_code == 401
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_the_user_a_dependency_put_on_request_state_is_the_authenticated_user(emu: Emulator) -> None:
    out = run_python(APP.format(cs=emu.connection_string))
    assert out.returncode == 0, out.stderr
    requests = {i["envelope"]["data"]["baseData"]["responseCode"]: i["envelope"]
                for i in emu.wait_for_items(count=2, timeout=30, type="request")}
    assert requests["200"]["tags"]["ai.user.authUserId"] == "5d1a4f0e-8f37-4c54-9d9b-0d2a3e1b6c11"
    assert "ai.user.authUserId" not in requests["401"]["tags"]
