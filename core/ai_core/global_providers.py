"""Global OpenTelemetry providers that follow the current pipeline.

The OpenTelemetry API lets each global provider (tracer, logger, meter) be set once per
process. If ``configure()`` set its SDK providers there directly, ``configure()`` ->
``shutdown()`` -> ``configure()`` would leave the first, shut-down pipeline as the global one,
and everything recorded through ``trace.get_tracer(...)``, ``metrics.get_meter(...)`` or the
logs API would be lost. So the globals are set once, to the small providers below, and each
``configure()`` points them at its own SDK providers.

What they hand out follows every switch, including what was obtained earlier (a module-level
``tracer = trace.get_tracer(__name__)``, a counter created at import time):

- tracers and loggers look up the current target when a span starts or a record is emitted,
  from a cache that costs one identity check while the target is unchanged;
- meters and instruments are re-created on the new provider at the switch (observable
  instruments must be, since nothing calls them), with the same callbacks;
- other attributes (``add_span_processor``, ``resource``, ``force_flush`` ...) are those of the
  current SDK provider, so code that reaches through the global keeps working.

A provider the app set globally before ``configure()`` is never replaced.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from typing import Any, Callable, Dict, Hashable, Optional, Sequence, Tuple

from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api
from opentelemetry._logs import Logger, LoggerProvider, set_logger_provider
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.metrics import (
    Counter,
    Histogram,
    Meter,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.metrics import _internal as metrics_internal
from opentelemetry.metrics._internal.instrument import Gauge

__all__ = ["install", "GlobalTracerProvider", "GlobalLoggerProvider", "GlobalMeterProvider"]

logger = logging.getLogger("ai_core")

_lock = threading.Lock()


def install(tracer_provider: Any, logger_provider: Any, meter_provider: Any) -> None:
    """Make the global providers lead to these SDK providers, one signal at a time.

    The first call sets each global that is still unset to a switching provider; later calls
    (a new pipeline after ``shutdown()``) switch those. A global the app set itself is kept.
    The API has no public "is it set" call and warns on a second set, so we look first.
    """
    with _lock:
        current = getattr(trace_api, "_TRACER_PROVIDER", None)
        if isinstance(current, GlobalTracerProvider):
            current._switch(tracer_provider)
        elif current is None:
            trace_api.set_tracer_provider(GlobalTracerProvider(tracer_provider))
        else:
            logger.info("A global TracerProvider already exists; ai_core instruments with its own provider.")

        current = getattr(logs_internal, "_LOGGER_PROVIDER", None)
        if isinstance(current, GlobalLoggerProvider):
            current._switch(logger_provider)
        elif current is None:
            set_logger_provider(GlobalLoggerProvider(logger_provider))

        current = getattr(metrics_internal, "_METER_PROVIDER", None)
        if isinstance(current, GlobalMeterProvider):
            current._switch(meter_provider)
        elif current is None:
            metrics_api.set_meter_provider(GlobalMeterProvider(meter_provider))


def _scope_key(name: str, version: Optional[str], schema_url: Optional[str], attributes: Any) -> Optional[Hashable]:
    """A dictionary key for an instrumentation scope, or None when its attributes are not
    hashable (then nothing is cached for it)."""
    if not attributes:
        return (name, version, schema_url)
    try:
        key = (name, version, schema_url, frozenset(attributes.items()))
        hash(key)
        return key
    except (AttributeError, TypeError):
        return None


class _Switchable:
    """The current target of a global provider, and the attributes it lends out.

    ``_state`` is a new one-element tuple at every switch: what was resolved from it is
    current while ``cached_state is provider._state`` (one identity check, no lock).
    """

    _state: Tuple[Any]

    def _switch(self, target: Any) -> None:
        self._state = (target,)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class lacks: add_span_processor, resource, ...
        if name.startswith("__") or name == "_state":
            raise AttributeError(name)
        return getattr(self._state[0], name)


# ---------------------------------------------------------------------------------------------
# Traces
# ---------------------------------------------------------------------------------------------

class GlobalTracerProvider(_Switchable, trace_api.TracerProvider):
    """The global TracerProvider: tracers that start spans on the current pipeline's provider."""

    def __init__(self, target: Any) -> None:
        self._state = (target,)
        self._tracers: Dict[Hashable, _SwitchingTracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: Optional[str] = None,
        schema_url: Optional[str] = None,
        attributes: Any = None,
    ) -> trace_api.Tracer:
        key = _scope_key(instrumenting_module_name, instrumenting_library_version, schema_url, attributes)
        tracer = self._tracers.get(key) if key is not None else None
        if tracer is None:
            tracer = _SwitchingTracer(
                self, (instrumenting_module_name, instrumenting_library_version, schema_url, attributes)
            )
            if key is not None:
                tracer = self._tracers.setdefault(key, tracer)
        return tracer


class _SwitchingTracer(trace_api.Tracer):
    """Starts each span on the tracer of the provider that is current at span start."""

    def __init__(self, provider: GlobalTracerProvider, scope: Tuple[Any, ...]) -> None:
        self._provider = provider
        self._scope = scope
        self._cache: Tuple[Any, Any] = ((), None)  # (provider state, tracer from it)

    def _resolve(self) -> Any:
        state = self._provider._state
        tracer = state[0].get_tracer(*self._scope)
        self._cache = (state, tracer)  # one store: never a tracer paired with the wrong state
        return tracer

    def _current(self) -> Any:
        cache = self._cache
        return cache[1] if cache[0] is self._provider._state else self._resolve()

    def start_span(self, *args: Any, **kwargs: Any) -> trace_api.Span:
        cache = self._cache
        tracer = cache[1] if cache[0] is self._provider._state else self._resolve()
        return tracer.start_span(*args, **kwargs)

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _CurrentSpan(self, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_provider", "_scope", "_cache"):
            raise AttributeError(name)
        return getattr(self._current(), name)


class _CurrentSpan:
    """``start_as_current_span`` of a switching tracer, usable with ``with`` and as a decorator
    of sync and async functions, like the API's.

    The target tracer is resolved when the block is entered, not when this is created: a
    function decorated with ``@tracer.start_as_current_span(...)`` at import time follows
    later pipelines too. A small class rather than a generator: this is every span's path.
    """

    __slots__ = ("_tracer", "_args", "_kwargs", "_cm")

    def __init__(self, tracer: _SwitchingTracer, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self._tracer = tracer
        self._args = args
        self._kwargs = kwargs
        self._cm: Any = None

    def __enter__(self) -> trace_api.Span:
        cm = self._tracer._current().start_as_current_span(*self._args, **self._kwargs)
        self._cm = cm
        return cm.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return self._cm.__exit__(exc_type, exc, tb)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        tracer, args, kwargs = self._tracer, self._args, self._kwargs
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*a: Any, **kw: Any) -> Any:
                with _CurrentSpan(tracer, args, kwargs):
                    return await func(*a, **kw)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            with _CurrentSpan(tracer, args, kwargs):
                return func(*a, **kw)

        return wrapper


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

class GlobalLoggerProvider(_Switchable, LoggerProvider):
    """The global LoggerProvider: loggers that emit on the current pipeline's provider."""

    def __init__(self, target: Any) -> None:
        self._state = (target,)
        self._loggers: Dict[Hashable, _SwitchingLogger] = {}

    def get_logger(
        self,
        name: str,
        version: Optional[str] = None,
        schema_url: Optional[str] = None,
        attributes: Any = None,
    ) -> Logger:
        key = _scope_key(name, version, schema_url, attributes)
        found = self._loggers.get(key) if key is not None else None
        if found is None:
            found = _SwitchingLogger(self, name, version, schema_url, attributes)
            if key is not None:
                found = self._loggers.setdefault(key, found)
        return found


class _SwitchingLogger(Logger):
    """Emits each record on the logger of the provider that is current at emit time."""

    def __init__(self, provider: GlobalLoggerProvider, name: str, version: Optional[str],
                 schema_url: Optional[str], attributes: Any) -> None:
        super().__init__(name, version, schema_url, attributes)
        self._provider = provider
        self._cache: Tuple[Any, Any] = ((), None)

    def _current(self) -> Any:
        cache = self._cache
        state = self._provider._state
        if cache[0] is state:
            return cache[1]
        found = state[0].get_logger(self._name, self._version, self._schema_url, self._attributes)
        self._cache = (state, found)
        return found

    def emit(self, record: Any = None, **kwargs: Any) -> None:  # type: ignore[override]
        if record is None:
            self._current().emit(**kwargs)
        else:
            self._current().emit(record, **kwargs)

    def enabled(self, **kwargs: Any) -> bool:  # type: ignore[override]
        return self._current().enabled(**kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_provider", "_cache"):
            raise AttributeError(name)
        return getattr(self._current(), name)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

class GlobalMeterProvider(_Switchable, MeterProvider):
    """The global MeterProvider: meters whose instruments are re-created on each new pipeline."""

    def __init__(self, target: Any) -> None:
        self._state = (target,)
        self._meters: Dict[Hashable, _SwitchingMeter] = {}
        self._meters_lock = threading.Lock()

    def _switch(self, target: Any) -> None:
        with self._meters_lock:
            self._state = (target,)
            for meter in self._meters.values():
                meter._bind(target)

    def get_meter(
        self,
        name: str,
        version: Optional[str] = None,
        schema_url: Optional[str] = None,
        attributes: Any = None,
    ) -> Meter:
        # Always asked of the target: our provider starts its export worker when app code asks
        # for a meter, and the SDK hands back the same meter for the same scope anyway.
        key = _scope_key(name, version, schema_url, attributes)
        with self._meters_lock:
            meter = self._meters.get(key) if key is not None else None
            if meter is None:
                meter = _SwitchingMeter(name, version, schema_url, attributes)
                if key is not None:
                    self._meters[key] = meter
            meter._bind(self._state[0])
        return meter


class _SwitchingMeter(Meter):
    """Creates instruments that record on the current pipeline's meter of the same scope."""

    def __init__(self, name: str, version: Optional[str], schema_url: Optional[str], attributes: Any) -> None:
        super().__init__(name, version=version, schema_url=schema_url)
        self._attributes = attributes
        self._real: Any = None
        self._provider: Any = None
        self._lock = threading.Lock()
        self._instruments: Dict[Hashable, Any] = {}

    def _bind(self, provider: Any) -> None:
        real = provider.get_meter(self._name, self._version, self._schema_url, self._attributes)
        with self._lock:
            if real is self._real:
                return
            self._real = real
            instruments = list(self._instruments.values())
        for instrument in instruments:
            instrument._bind(real)

    def _instrument(self, cls: Callable[..., Any], name: str, unit: str, description: str, *extra: Any) -> Any:
        # The SDK hands back the instrument already registered under the same identity; so do
        # we (and keep one switching instrument per identity, not one per call).
        key = (cls, name.strip().lower(), unit, description)
        with self._lock:
            instrument = self._instruments.get(key)
            if instrument is None:
                instrument = cls(name, unit, description, *extra)
                instrument._bind(self._real)
                self._instruments[key] = instrument
        return instrument

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        return self._instrument(_SwitchingCounter, name, unit, description)

    def create_up_down_counter(self, name: str, unit: str = "", description: str = "") -> UpDownCounter:
        return self._instrument(_SwitchingUpDownCounter, name, unit, description)

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Optional[Sequence[float]] = None,
    ) -> Histogram:
        return self._instrument(_SwitchingHistogram, name, unit, description, explicit_bucket_boundaries_advisory)

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Gauge:  # type: ignore[override]
        return self._instrument(_SwitchingGauge, name, unit, description)

    def create_observable_counter(
        self, name: str, callbacks: Optional[Sequence[Any]] = None, unit: str = "", description: str = ""
    ) -> ObservableCounter:
        return self._instrument(_SwitchingObservableCounter, name, unit, description, callbacks)

    def create_observable_up_down_counter(
        self, name: str, callbacks: Optional[Sequence[Any]] = None, unit: str = "", description: str = ""
    ) -> ObservableUpDownCounter:
        return self._instrument(_SwitchingObservableUpDownCounter, name, unit, description, callbacks)

    def create_observable_gauge(
        self, name: str, callbacks: Optional[Sequence[Any]] = None, unit: str = "", description: str = ""
    ) -> ObservableGauge:
        return self._instrument(_SwitchingObservableGauge, name, unit, description, callbacks)


class _SwitchingInstrument:
    """What a switching meter hands out: records on an instrument of the current pipeline's
    meter, which ``_bind`` re-creates at every switch."""

    _create = ""

    def __init__(self, name: str, unit: str, description: str, extra: Any = None) -> None:
        self._name = name
        self._unit = unit
        self._description = description
        self._extra = extra  # histogram bucket advisory, or observable callbacks
        self._real: Any = None

    def _bind(self, meter: Any) -> None:
        self._real = getattr(meter, self._create)(self._name, self._unit, self._description)


class _SwitchingCounter(_SwitchingInstrument, Counter):
    _create = "create_counter"

    def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._real.add(amount, attributes, context)


class _SwitchingUpDownCounter(_SwitchingInstrument, UpDownCounter):
    _create = "create_up_down_counter"

    def add(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._real.add(amount, attributes, context)


class _SwitchingHistogram(_SwitchingInstrument, Histogram):
    def _bind(self, meter: Any) -> None:
        self._real = meter.create_histogram(
            self._name, self._unit, self._description, explicit_bucket_boundaries_advisory=self._extra
        )

    def record(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._real.record(amount, attributes, context)


class _SwitchingGauge(_SwitchingInstrument, Gauge):
    _create = "create_gauge"

    def set(self, amount: float, attributes: Any = None, context: Any = None) -> None:
        self._real.set(amount, attributes, context)


class _SwitchingObservable(_SwitchingInstrument):
    """Observable instruments register their callbacks on each new pipeline's meter (the old
    pipeline is shut down, so they are never collected twice)."""

    def _bind(self, meter: Any) -> None:
        self._real = getattr(meter, self._create)(self._name, self._extra, self._unit, self._description)


class _SwitchingObservableCounter(_SwitchingObservable, ObservableCounter):
    _create = "create_observable_counter"


class _SwitchingObservableUpDownCounter(_SwitchingObservable, ObservableUpDownCounter):
    _create = "create_observable_up_down_counter"


class _SwitchingObservableGauge(_SwitchingObservable, ObservableGauge):
    _create = "create_observable_gauge"
