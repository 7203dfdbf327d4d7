"""Marks the code that talks to a task queue's broker, so its Redis commands record nothing.

A Celery worker polls its broker, acknowledges and restores messages (``BRPOP``, ``EVALSHA``
and its ``NoScriptError`` fallback, ...) outside any operation, and an enqueue sends its
message with a few commands of its own: that traffic belongs to the queue, which the enqueue
dependency already shows (README, "Celery"), not to the application. The task layer runs
that code inside :func:`broker_traffic` (or attaches :func:`with_broker_traffic`), and the
Redis instrumentation (``ai_core.redis_instrumentation``) records nothing while it is set; a
task's own code runs with it cleared, so the app's Redis calls inside a task are recorded.

A context value rather than suppressing instrumentation: the worker's own log records and
any other dependency made there are still the app's to see.

A result backend's client (Celery's Redis result backend: results stored by the worker, read
by ``AsyncResult.get()``/``.ready()`` anywhere) is marked instead, by its connection pool
(:func:`mark_queue_client`): its commands are the queue's wherever they are made, while the
app's own clients, even to the same server, stay the app's.
"""

from __future__ import annotations

import weakref
from typing import Any, Optional

from opentelemetry import context as otel_context

__all__ = ["is_broker_traffic", "with_broker_traffic", "mark_queue_client", "is_queue_client"]

_BROKER_TRAFFIC = otel_context.create_key("ai_core.broker_traffic")
_QUEUE_POOLS: "weakref.WeakSet[Any]" = weakref.WeakSet()  # connection pools of a queue's own clients


def with_broker_traffic(flag: bool, context: Optional[Any] = None) -> Any:
    """``context`` (None: the current one) with the broker-traffic mark set or cleared."""
    return otel_context.set_value(_BROKER_TRAFFIC, flag, context)


def is_broker_traffic(context: Optional[Any] = None) -> bool:
    """True while a queue's broker traffic runs (``context`` None: the current one)."""
    return otel_context.get_value(_BROKER_TRAFFIC, context) is True


def mark_queue_client(client: Any) -> Any:
    """Mark a Redis client (its connection pool, shared with its pipelines and pub/sub) as a
    task queue's own; returns it."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        try:
            _QUEUE_POOLS.add(pool)
        except TypeError:  # a pool that cannot be weakly referenced stays unmarked
            pass
    return client


def is_queue_client(client: Any) -> bool:
    """True for a client (or pipeline) :func:`mark_queue_client` marked."""
    if not _QUEUE_POOLS:
        return False
    pool = getattr(client, "connection_pool", None)
    try:
        return pool is not None and pool in _QUEUE_POOLS
    except TypeError:
        return False
