"""Sign-in for the example: a ``user`` cookie set by ``POST /login`` or ``Authorization: Bearer <user>``.

Authentication happens in a dependency (as many FastAPI apps do), which puts the user on
``request.state``; ``current_user_id`` reads it back for telemetry (the middleware's ``user_id``).
"""

from __future__ import annotations

from typing import Optional

from fastapi import HTTPException, Request


def _user_of(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    if header.startswith("Bearer ") and header[7:].strip():
        return header[7:].strip()
    return request.cookies.get("user") or None


async def optional_user(request: Request) -> Optional[str]:
    request.state.user = _user_of(request)
    return request.state.user


async def signed_in(request: Request) -> str:
    user = await optional_user(request)
    if user is None:
        raise HTTPException(401, "sign in first")
    return user


def current_user_id(request) -> Optional[str]:
    """``user_id`` for ApplicationInsightsMiddleware: the user the dependency found, if any."""
    return getattr(request.state, "user", None)
