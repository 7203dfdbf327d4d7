"""Redis commands as dependencies, except a task queue's own broker traffic.

The stock ``opentelemetry-instrumentation-redis`` names each span by its command (redis-py 8
sends ``INCRBY`` for ``incr``), with the server as target and a statement whose arguments are
all ``?`` (keys and values never leave the process). It would also record every command a
Celery worker sends to its broker; this subclass hands the stock code a tracer that starts no
span while :func:`ai_core.broker_traffic.is_broker_traffic` holds (README, "Celery"), and
around the stock wrappers it marks the commands of a client the task layer marked as the
queue's (a result backend's, :func:`ai_core.broker_traffic.mark_queue_client`).
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from opentelemetry import trace
from opentelemetry.instrumentation.redis import RedisInstrumentor as _StockRedisInstrumentor

from ai_core.broker_traffic import is_broker_traffic, is_queue_client, with_broker_traffic

__all__ = ["RedisInstrumentor"]

# What the stock instrumentation wraps for the synchronous client (redis-py 3 and later), which
# a queue's client uses: ours wrap those wrappers.
_SYNC_METHODS = (("redis", "Redis", "execute_command"), ("redis.client", "Pipeline", "execute"),
                 ("redis.client", "Pipeline", "immediate_execute_command"))


def _queue_client_commands(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    if not is_queue_client(instance):
        return wrapped(*args, **kwargs)
    from opentelemetry import context as otel_context

    token = otel_context.attach(with_broker_traffic(True))
    try:
        return wrapped(*args, **kwargs)
    finally:
        otel_context.detach(token)


class _AppTrafficTracer(trace.Tracer):
    """A tracer that starts nothing for broker traffic and delegates everything else."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Optional[Any] = None, *args: Any, **kwargs: Any) -> trace.Span:
        if is_broker_traffic(context):
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    def start_as_current_span(self, name: str, context: Optional[Any] = None, *args: Any, **kwargs: Any) -> Any:
        if is_broker_traffic(context):
            return contextlib.nullcontext(trace.INVALID_SPAN)
        return self._tracer.start_as_current_span(name, context, *args, **kwargs)


class _AppTrafficTracerProvider(trace.TracerProvider):
    def __init__(self, provider: Optional[trace.TracerProvider]) -> None:
        self._provider = provider

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        provider = self._provider if self._provider is not None else trace.get_tracer_provider()
        return _AppTrafficTracer(provider.get_tracer(*args, **kwargs))


class RedisInstrumentor(_StockRedisInstrumentor):  # type: ignore[misc]
    """The stock Redis instrumentation, minus the broker traffic of a task queue."""

    _instance = None  # its own singleton: BaseInstrumentor() would hand back the stock one

    def _instrument(self, **kwargs: Any) -> None:
        kwargs["tracer_provider"] = _AppTrafficTracerProvider(kwargs.get("tracer_provider"))
        super()._instrument(**kwargs)
        from wrapt import wrap_function_wrapper

        for module, cls, method in _SYNC_METHODS:
            wrap_function_wrapper(module, "%s.%s" % (cls, method), _queue_client_commands)

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        from opentelemetry.instrumentation.utils import unwrap

        for module, cls, method in _SYNC_METHODS:  # ours first: they wrap the stock ones
            unwrap(getattr(importlib.import_module(module), cls), method)
        super()._uninstrument(**kwargs)
