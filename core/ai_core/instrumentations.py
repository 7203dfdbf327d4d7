"""Outbound dependency tracking: the stock OpenTelemetry instrumentations, when installed."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any, List, Optional, Sequence

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
}


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


def enable_instrumentations(names: Optional[Sequence[str]], tracer_provider: Any, meter_provider: Any) -> List[Any]:
    """Instrument each named (default: every known) library that is installed.

    A library or instrumentation that is missing is skipped quietly when it was not asked
    for by name, and with one log line when it was.
    """
    asked = names is not None
    chosen = list(names) if names is not None else list(KNOWN_INSTRUMENTATIONS)
    done: List[Any] = []
    for name in chosen:
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
        try:
            instrumentor = getattr(importlib.import_module(module), cls_name)()
            if instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.uninstrument()  # left by an earlier pipeline: rebind to ours
            instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
            done.append(instrumentor)
        except Exception:
            logger.warning("Application Insights: could not instrument %s", name, exc_info=True)
    return done
