"""Tracing a PostgreSQL connection that is already open, as if it had been opened traced.

The stock psycopg and psycopg2 instrumentations trace a connection by giving it a traced
cursor factory when it is opened (they wrap ``connect``); a connection opened before the
pipeline started never gets one. :func:`trace_open_connection` runs the stock integration's
own connect path with the connection that exists, so the factory, the span attributes (server,
database, user) and the instrumentation scope are the stock ones, built by its own classes.
Used by ``ai_core.psycopg_instrumentation`` and ``ai_core.psycopg2_instrumentation``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

# What the stock instrumentations pass: the spans must be the same whichever way a connection came.
DATABASE_SYSTEM = "postgresql"
CONNECTION_ATTRIBUTES = {"database": "info.dbname", "port": "info.port", "host": "info.host", "user": "info.user"}


def trace_open_connection(integration: Any, connection: Any, own_factory: Any) -> None:
    """Give ``connection`` the traced cursor factory ``integration`` (a stock
    ``DatabaseApiIntegration``, sync or async) builds over ``own_factory``."""

    def reuse(*_args: Any, cursor_factory: Any = None, **_kwargs: Any) -> Any:
        connection.cursor_factory = cursor_factory
        return connection

    connect: Callable[..., Any] = reuse
    if inspect.iscoroutinefunction(integration.wrapped_connection):

        async def reuse_async(*args: Any, **kwargs: Any) -> Any:
            return reuse(*args, **kwargs)

        connect = reuse_async
    _completed(integration.wrapped_connection(connect, (), {"cursor_factory": own_factory}))


def _completed(answer: Any) -> None:
    """The async integration's ``wrapped_connection`` is a coroutine that awaits only
    ``reuse_async``, which never suspends: run it to its end here, on the caller's thread."""
    if not inspect.iscoroutine(answer):
        return
    try:
        answer.send(None)
    except StopIteration:
        return
    answer.close()
    raise RuntimeError("the async integration suspended while tracing an open connection")
