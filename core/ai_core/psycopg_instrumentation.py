"""psycopg 3 queries as dependencies, on every connection, whenever it was opened.

The stock ``PsycopgInstrumentor`` gives each connection a traced cursor factory when it is
opened (it wraps ``connect``), so a connection opened before telemetry started stays untraced
for its whole life: a SQLAlchemy pool warmed at import, a test suite's database fixture that
runs before a FastAPI app's lifespan starts the pipeline (README, "SQL on connections opened
early"). This instrumentor gives a connection the same traced cursor factory at its first
``cursor()`` call instead (``Connection.execute`` goes through it too), whenever the
connection was opened: the same spans, attributes and instrumentation scope as the stock
one's, built by its own classes (``ai_core.open_connections``). A connection that the app's own stock instrumentation
already traces is left to it, and after a new pipeline replaces a stopped one, connections
are given the new one's factory.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Collection, Dict, Tuple

import psycopg
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.psycopg import DatabaseApiAsyncIntegration, DatabaseApiIntegration
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor as StockPsycopgInstrumentor
from opentelemetry.instrumentation.psycopg.package import _instruments
from opentelemetry.instrumentation.psycopg.version import __version__
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from ai_core.open_connections import CONNECTION_ATTRIBUTES, DATABASE_SYSTEM, trace_open_connection

__all__ = ["PsycopgInstrumentor"]

logger = logging.getLogger("ai_core")

_SCOPE = "opentelemetry.instrumentation.psycopg"  # the stock instrumentation's scope and module

# Set on each connection: the pipeline whose factory it has, and its own factory from before.
_TRACED_BY = "_ai_core_traced_by"
_OWN_FACTORY = "_ai_core_own_cursor_factory"


class PsycopgInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """``instrumentations=["psycopg"]``: connections opened before telemetry started included."""

    _instance = None  # its own singleton: BaseInstrumentor() would hand back another class's
    _wrapped = False

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments  # type: ignore[no-any-return]

    def _instrument(self, **kwargs: Any) -> None:
        if StockPsycopgInstrumentor().is_instrumented_by_opentelemetry:
            return  # the app instrumented psycopg itself: a second factory would double every span
        self._options: Dict[str, Any] = {
            "tracer_provider": kwargs.get("tracer_provider"),
            "meter_provider": kwargs.get("meter_provider"),
        }
        self._pipeline = object()  # told apart from an earlier pipeline's (a connection may outlive it)
        for cls, integration in ((psycopg.Connection, DatabaseApiIntegration),
                                 (psycopg.AsyncConnection, DatabaseApiAsyncIntegration)):
            wrap_function_wrapper(cls, "cursor", self._tracing(integration))
        self._wrapped = True

    def _uninstrument(self, **kwargs: Any) -> None:
        if not self._wrapped:
            return  # never unwrap the app's own instrumentation
        for cls in (psycopg.Connection, psycopg.AsyncConnection):
            unwrap(cls, "cursor")
        self._wrapped = False

    def _tracing(self, integration: Any) -> Callable[..., Any]:
        def cursor(wrapped: Callable[..., Any], connection: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            if getattr(connection, _TRACED_BY, None) is not self._pipeline:
                try:
                    self._trace(connection, integration)
                except Exception:  # the query runs untraced rather than not at all
                    logger.debug("Application Insights: could not trace a psycopg connection", exc_info=True)
                    with contextlib.suppress(Exception):
                        setattr(connection, _TRACED_BY, self._pipeline)  # tried once, not per query
            return wrapped(*args, **kwargs)

        return cursor

    def _trace(self, connection: Any, integration_class: Any) -> None:
        own = getattr(connection, _OWN_FACTORY, None)
        if own is None:
            own = connection.cursor_factory
            if getattr(own, "__module__", None) == _SCOPE:
                # Opened through the stock instrumentation's connect (the app's, or an earlier
                # process-wide one): already traced.
                setattr(connection, _TRACED_BY, self._pipeline)
                return
            setattr(connection, _OWN_FACTORY, own)
        integration = integration_class(
            _SCOPE, DATABASE_SYSTEM, connection_attributes=CONNECTION_ATTRIBUTES, version=__version__,
            connect_module=psycopg, **self._options,
        )
        trace_open_connection(integration, connection, own)
        setattr(connection, _TRACED_BY, self._pipeline)
