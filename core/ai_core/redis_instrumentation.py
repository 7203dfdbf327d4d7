"""Redis commands as dependencies, except a task queue's own broker traffic.

The stock ``opentelemetry-instrumentation-redis`` names each span by its command (redis-py 8
sends ``INCRBY`` for ``incr``), with the server as target and a statement whose arguments are
all ``?`` (keys and values never leave the process). It would also record every command a
Celery worker sends to its broker; this subclass hands the stock code a tracer that starts no
span while :func:`ai_core.broker_traffic.is_broker_traffic` holds (README, "Celery").
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from opentelemetry import trace
from opentelemetry.instrumentation.redis import RedisInstrumentor as _StockRedisInstrumentor

from ai_core.broker_traffic import is_broker_traffic

__all__ = ["RedisInstrumentor"]


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
