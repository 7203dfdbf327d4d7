"""sqlite3 queries as dependencies, the ``Connection.execute`` shortcut included.

The stock ``SQLite3Instrumentor`` traces queries run through a cursor. ``conn.execute(...)``
and ``conn.executemany(...)`` (the style of Python's and Flask's own tutorials) create their
cursor inside sqlite3's C code, where it never sees them, so those queries were missing. This
is the stock instrumentor with a connection whose two shortcuts do what sqlite3 does (make a
cursor, execute on it, return it) through the traced cursor: the same spans, the same
attributes and instrumentation scope as a cursor query.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable, Dict, Tuple

from opentelemetry.instrumentation import dbapi
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor as StockSQLite3Instrumentor
from opentelemetry.instrumentation.sqlite3.version import __version__

__all__ = ["SQLite3Instrumentor"]

# What the stock instrumentor passes: the spans must be the same whichever way a query is run.
_SCOPE = "opentelemetry.instrumentation.sqlite3"
_DATABASE_SYSTEM = "sqlite"


class _TracedConnection(dbapi.TracedConnectionProxy):  # type: ignore[misc]
    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.cursor().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        return self.cursor().executemany(*args, **kwargs)


class _Integration(dbapi.DatabaseApiIntegration):  # type: ignore[misc]
    def wrapped_connection(
        self, connect_method: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[Any, Any]
    ) -> Any:
        connection = connect_method(*args, **kwargs)
        self.get_connection_attributes(connection)
        return _TracedConnection(connection, self)


class SQLite3Instrumentor(StockSQLite3Instrumentor):  # type: ignore[misc]
    """``instrumentations=["sqlite3"]``: cursor queries and connection shortcuts alike."""

    _instance = None  # its own singleton: BaseInstrumentor() would hand back the stock one
    _wrapped = False

    def _instrument(self, **kwargs: Any) -> None:
        if StockSQLite3Instrumentor().is_instrumented_by_opentelemetry:
            return  # the app instrumented sqlite3 itself: a second wrapper would double every span
        for module in (sqlite3, sqlite3.dbapi2):
            dbapi.wrap_connect(
                _SCOPE, module, "connect", _DATABASE_SYSTEM, {}, version=__version__,
                tracer_provider=kwargs.get("tracer_provider"), db_api_integration_factory=_Integration,
            )
        self._wrapped = True

    def _uninstrument(self, **kwargs: Any) -> None:
        if not self._wrapped:
            return  # never unwrap the app's own instrumentation
        for module in (sqlite3, sqlite3.dbapi2):
            dbapi.unwrap_connect(module, "connect")
        self._wrapped = False
