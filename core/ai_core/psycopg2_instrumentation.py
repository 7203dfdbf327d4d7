"""psycopg2 queries as dependencies, pooled connections opened before telemetry started included.

The stock ``Psycopg2Instrumentor`` traces a connection from the moment it is opened (it wraps
``psycopg2.connect``); a connection opened earlier stays untraced for its whole life. psycopg2
connections are C objects, so nothing can be added to their ``cursor()``: what this
instrumentor adds is the moment a pool hands a connection out. A connection checked out of a
SQLAlchemy pool (any engine, whenever it was created) or a ``psycopg2.pool`` pool gets the
stock traced cursor factory then, if it has none (``ai_core.open_connections``). A connection
the app keeps outside any pool, opened before telemetry started, stays untraced (README, "SQL
on connections opened early"). When the app instruments psycopg2 itself, this one steps aside.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from typing import Any, Callable, Dict, Tuple

import psycopg2
import psycopg2.pool
from opentelemetry.instrumentation.psycopg2 import DatabaseApiIntegration
from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor as StockPsycopg2Instrumentor
from opentelemetry.instrumentation.psycopg2.version import __version__
from opentelemetry.instrumentation.utils import unwrap
from wrapt import register_post_import_hook, wrap_function_wrapper

from ai_core.open_connections import CONNECTION_ATTRIBUTES, DATABASE_SYSTEM, trace_open_connection

__all__ = ["Psycopg2Instrumentor"]

logger = logging.getLogger("ai_core")

_SCOPE = "opentelemetry.instrumentation.psycopg2"  # the stock instrumentation's scope and module
# psycopg2's pools hand connections out here (SimpleConnectionPool.getconn is _getconn itself).
_POOL_METHODS = ((psycopg2.pool.AbstractConnectionPool, "_getconn"), (psycopg2.pool.SimpleConnectionPool, "getconn"))


class Psycopg2Instrumentor(StockPsycopg2Instrumentor):  # type: ignore[misc]
    """``instrumentations=["psycopg2"]``: the stock instrumentation, and pooled connections
    that were opened before it started."""

    _instance = None  # its own singleton: BaseInstrumentor() would hand back the stock one
    _wrapped = False

    def _instrument(self, **kwargs: Any) -> None:
        if StockPsycopg2Instrumentor().is_instrumented_by_opentelemetry:
            return  # the app instrumented psycopg2 itself: a second factory would double every span
        super()._instrument(**kwargs)  # connections opened from now on
        self._options: Dict[str, Any] = {"tracer_provider": kwargs.get("tracer_provider")}
        self._pipeline = object()  # told apart from an earlier pipeline's (a connection may outlive it)
        # connection -> (the pipeline whose factory it has, its own factory from before)
        self._traced: "weakref.WeakKeyDictionary[Any, Tuple[object, Any]]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        for cls, name in _POOL_METHODS:
            wrap_function_wrapper(cls, name, self._handing_out)
        self._on_checkout = self._sqlalchemy_checkout  # one bound method: event.remove needs the same
        self._listening = False
        self._wrapped = True
        if "sqlalchemy.pool" in sys.modules:
            self._listen_to_sqlalchemy(sys.modules["sqlalchemy.pool"])
        else:  # wrapt calls a hook for a module imported already only the first time one is registered
            register_post_import_hook(self._listen_to_sqlalchemy, "sqlalchemy.pool")

    def _uninstrument(self, **kwargs: Any) -> None:
        if not self._wrapped:
            return  # never unwrap the app's own instrumentation
        super()._uninstrument(**kwargs)
        for cls, name in _POOL_METHODS:
            unwrap(cls, name)
        if self._listening:
            from sqlalchemy import event
            from sqlalchemy.pool import Pool

            event.remove(Pool, "checkout", self._on_checkout)
            self._listening = False
        self._wrapped = False

    def _listen_to_sqlalchemy(self, pool_module: Any) -> None:
        if not self._wrapped or self._listening:
            return
        try:
            from sqlalchemy import event

            event.listen(pool_module.Pool, "checkout", self._on_checkout)  # every pool, existing ones too
            self._listening = True
        except Exception:  # an import hook must never break the app's import
            logger.warning("Application Insights: could not watch SQLAlchemy's pools", exc_info=True)

    def _sqlalchemy_checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        self._trace(dbapi_connection)

    def _handing_out(self, wrapped: Callable[..., Any], pool: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        connection = wrapped(*args, **kwargs)
        self._trace(connection)
        return connection

    def _trace(self, connection: Any) -> None:
        if not isinstance(connection, psycopg2.extensions.connection):
            return  # another driver's connection in a SQLAlchemy pool
        try:
            with self._lock:
                pipeline, own = self._traced.get(connection, (None, None))
                if pipeline is self._pipeline:
                    return
                if pipeline is None:
                    own = connection.cursor_factory
                    if getattr(own, "__module__", None) == _SCOPE:  # opened through the stock connect
                        self._traced[connection] = (self._pipeline, None)
                        return
                integration = DatabaseApiIntegration(
                    _SCOPE, DATABASE_SYSTEM, connection_attributes=CONNECTION_ATTRIBUTES, version=__version__,
                    connect_module=psycopg2, **self._options,
                )
                trace_open_connection(integration, connection, own)
                self._traced[connection] = (self._pipeline, own)
        except Exception:  # the query runs untraced rather than not at all
            logger.debug("Application Insights: could not trace a psycopg2 connection", exc_info=True)
