"""Outbound dependency tracking: the stock OpenTelemetry instrumentations, when installed."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any, Callable, Optional, Sequence

logger = logging.getLogger("ai_core")

# name -> (library that must be importable, instrumentation module, instrumentor class)
KNOWN_INSTRUMENTATIONS = {
    "requests": ("requests", "opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    "urllib": ("urllib.request", "opentelemetry.instrumentation.urllib", "URLLibInstrumentor"),
    "urllib3": ("urllib3", "opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
    "httpx": ("httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    "psycopg2": ("psycopg2", "opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
    # psycopg 3 (import name "psycopg"); its spans carry the same db.* and net.peer.* attributes.
    "psycopg": ("psycopg", "opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
    "sqlite3": ("sqlite3", "opentelemetry.instrumentation.sqlite3", "SQLite3Instrumentor"),
    "redis": ("redis", "opentelemetry.instrumentation.redis", "RedisInstrumentor"),
    "asyncpg": ("asyncpg", "opentelemetry.instrumentation.asyncpg", "AsyncPGInstrumentor"),
    # Tasks, not dependencies: wired per Celery app by ai_core.tasks (README, "Celery").
    "celery": ("celery", "opentelemetry.instrumentation.celery", "CeleryInstrumentor"),
}
# Where ours is used instead of the stock instrumentor (which must still be installed).
_OUR_INSTRUMENTORS = {
    "sqlite3": ("ai_core.sqlite3_instrumentation", "SQLite3Instrumentor"),
    # Connections opened before the pipeline started are traced too (a pool warmed at import).
    "psycopg": ("ai_core.psycopg_instrumentation", "PsycopgInstrumentor"),
    "psycopg2": ("ai_core.psycopg2_instrumentation", "Psycopg2Instrumentor"),
    "redis": ("ai_core.redis_instrumentation", "RedisInstrumentor"),
}
# Named in the option like the others, but switched on by the layer that owns them.
_WIRED_ELSEWHERE = frozenset({"celery"})


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def instrumentation_available(name: str) -> bool:
    """Whether both the library and the instrumentation of ``KNOWN_INSTRUMENTATIONS[name]``
    can be imported (looked up with ``importlib.util.find_spec``, not imported)."""
    library, module, _ = KNOWN_INSTRUMENTATIONS[name]
    return _installed(library) and _installed(module)


class Instrumented(list):
    """The instrumentors that are active, and those waiting for their library's import.

    A library the app has not imported yet is instrumented when it is (a post-import hook):
    ``configure()`` does not import ``requests`` or ``httpx`` into an app that never uses
    them, which is most of its start-up time otherwise (benchmarks/README.md, start-up).
    ``cancel()`` (at shutdown) keeps a later import from instrumenting for a stopped pipeline.
    """

    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def enable_instrumentations(names: Optional[Sequence[str]], tracer_provider: Any, meter_provider: Any) -> Instrumented:
    """Instrument each named (default: every known) library that is installed, now if the app
    imported it already, else as soon as it does.

    A library or instrumentation that is missing is skipped quietly when it was not asked
    for by name, and with one log line when it was.
    """
    asked = names is not None
    chosen = list(names) if names is not None else list(KNOWN_INSTRUMENTATIONS)
    done = Instrumented()
    for name in chosen:
        if name in _WIRED_ELSEWHERE:
            continue
        library, module, cls_name = KNOWN_INSTRUMENTATIONS[name]
        # What pip would have to install: only the missing pieces (urllib and sqlite3 are part
        # of Python; "pip install urllib" would fetch some unrelated package, or nothing).
        missing = [pip_name for pip_name, importable in (
            (library.split(".")[0], library),
            ("opentelemetry-instrumentation-%s" % name, module),
        ) if not _installed(importable)]
        if missing:
            if asked:
                logger.warning(
                    "Application Insights: instrumentation %r is not available (pip install %s)",
                    name, " ".join(missing),
                )
            continue
        module, cls_name = _OUR_INSTRUMENTORS.get(name, (module, cls_name))
        instrument = _instrumenting(name, module, cls_name, tracer_provider, meter_provider, done)
        if library in sys.modules:
            instrument(sys.modules[library])
        else:
            from wrapt import register_post_import_hook  # the instrumentations' own dependency

            register_post_import_hook(instrument, library)
    return done


def _instrumenting(
    name: str, module: str, cls_name: str, tracer_provider: Any, meter_provider: Any, done: Instrumented
) -> Callable[[Any], None]:
    def instrument(_library: Any) -> None:
        if done.cancelled:
            return
        try:
            instrumentor = getattr(importlib.import_module(module), cls_name)()
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()  # left by an earlier pipeline: rebind to ours
            instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
            done.append(instrumentor)
        except Exception:  # an import hook must never break the app's import
            logger.warning("Application Insights: could not instrument %s", name, exc_info=True)

    return instrument
