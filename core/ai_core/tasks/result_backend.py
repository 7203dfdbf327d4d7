"""A Celery result backend's Redis traffic is the queue's, not the application's (README, "Celery").

With ``backend="redis://..."`` the worker stores each result (``SETEX``, ``PUBLISH``) and
``AsyncResult.get()``/``.ready()`` read them (``GET``, ``MGET``, pub/sub), in the worker's
task runs and in the web app's requests alike. Like the broker's traffic, those commands
would be Redis dependencies that say nothing about the application. Every Redis client of
the backend is made by ``RedisBackend._create_client`` (the Sentinel backend's too); the client
it returns is marked as the queue's (:func:`ai_core.broker_traffic.mark_queue_client`), and the
Redis instrumentation records nothing for it. The app's own Redis clients, even to the same
server, are not marked.
"""

from __future__ import annotations

import logging
from typing import Any

from ai_core.broker_traffic import mark_queue_client

__all__ = ["mark_result_backend_clients"]

logger = logging.getLogger("ai_core")

_wrapped = False


def mark_result_backend_clients() -> None:
    """Mark the clients Celery's Redis result backend creates from now on (once per process)."""
    global _wrapped
    if _wrapped:
        return
    try:
        from celery.backends import redis as redis_backend
        from wrapt import wrap_function_wrapper
    except ImportError:  # no Redis backend to mark
        return
    if not hasattr(getattr(redis_backend, "RedisBackend", None), "_create_client"):
        logger.debug("Application Insights: this Celery's Redis backend has no _create_client; its results are not marked")
        return
    wrap_function_wrapper(redis_backend, "RedisBackend._create_client", _marked_client)
    _wrapped = True


def _marked_client(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return mark_queue_client(wrapped(*args, **kwargs))
