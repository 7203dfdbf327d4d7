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
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry import context as otel_context

__all__ = ["is_broker_traffic", "with_broker_traffic"]

_BROKER_TRAFFIC = otel_context.create_key("ai_core.broker_traffic")


def with_broker_traffic(flag: bool, context: Optional[Any] = None) -> Any:
    """``context`` (None: the current one) with the broker-traffic mark set or cleared."""
    return otel_context.set_value(_BROKER_TRAFFIC, flag, context)


def is_broker_traffic(context: Optional[Any] = None) -> bool:
    """True while a queue's broker traffic runs (``context`` None: the current one)."""
    return otel_context.get_value(_BROKER_TRAFFIC, context) is True
