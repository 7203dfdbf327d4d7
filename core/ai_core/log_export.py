"""Python logging -> OpenTelemetry log records, on one logger, exactly once per process."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Tuple

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, get_value
from opentelemetry.instrumentation.logging.handler import LoggingHandler

from ai_core.diagnostics import DROPS

# Records of these loggers are never exported: ours would recurse (an export that logs a
# failure would export that log line, which could fail again...), and the SDK's own are noise
# produced on the export thread.
_NEVER_EXPORTED = ("ai_core", "opentelemetry")

_PRIMITIVE = (str, bool, int, float, bytes)
ContextFinder = Callable[[logging.LogRecord], Any]


def _not_ours(record: logging.LogRecord) -> bool:
    name = record.name
    if any(name == p or name.startswith(p + ".") for p in _NEVER_EXPORTED):
        return False
    # Logged by the export path itself (the export thread, an exporter's send, which run with
    # instrumentation suppressed): e.g. azure-identity warning that it could not get a token.
    # Exporting those would make every failed export produce more telemetry to export.
    return not get_value(_SUPPRESS_INSTRUMENTATION_KEY)


class ApplicationInsightsLogHandler(LoggingHandler):
    """The OpenTelemetry logging bridge, minus our own loggers; never raises into the app."""

    def __init__(self, level: int, logger_provider: Any) -> None:
        super().__init__(level=level, logger_provider=logger_provider)
        self.addFilter(_not_ours)
        self._context_finders: Tuple[ContextFinder, ...] = ()

    def add_context_finder(self, finder: "ContextFinder") -> None:
        """``finder(record)`` -> the OpenTelemetry context a record belongs to, or None: for
        framework log lines written after their request's span ended (Django's "Not Found")."""
        if finder not in self._context_finders:
            self._context_finders += (finder,)

    def _context_of(self, record: logging.LogRecord) -> Any:
        for finder in self._context_finders:
            try:
                context = finder(record)
            except Exception:
                continue
            if context is not None:
                return context
        return None

    def emit(self, record: logging.LogRecord) -> None:
        # The stock handler lets anything raise into the ``logger.info(...)`` call: a message
        # whose arguments do not match its format, a user log record processor that fails.
        # Plain logging handlers report such records and carry on; so do we.
        context = self._context_of(record) if self._context_finders else None
        token = attach(context) if context is not None else None
        try:
            super().emit(record)
        except Exception:
            self.handleError(record)
        finally:
            if token is not None:
                detach(token)

    def _get_attributes(self, record: logging.LogRecord) -> Tuple[dict, Optional[str]]:
        # Extras that are objects (Django logs ``request=<WSGIRequest>``) become their text
        # instead of a warning from OpenTelemetry on every such line.
        attributes, event_name = super()._get_attributes(record)
        for key, value in attributes.items():
            if value is not None and not isinstance(value, (_PRIMITIVE, dict)) and not _is_primitive_sequence(value):
                attributes[key] = str(value)
        return attributes, event_name

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging API name)
        # logging's default prints a traceback to stderr for every failing record; a broken
        # telemetry pipeline must not flood the app's output: counted, reported once per interval.
        DROPS.add("log records could not be recorded")


def _is_primitive_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(v is None or isinstance(v, _PRIMITIVE) for v in value)


def install_log_handler(logger_provider: Any, logger_name: str, level: int) -> ApplicationInsightsLogHandler:
    """Attach our handler to ``logger_name``; replaces one left by an earlier configure()."""
    target = logging.getLogger(logger_name or None)
    for existing in list(target.handlers):
        if isinstance(existing, ApplicationInsightsLogHandler):
            target.removeHandler(existing)
    handler = ApplicationInsightsLogHandler(level, logger_provider)
    target.addHandler(handler)
    effective = target.getEffectiveLevel()
    if level and effective > level:
        # We never change the app's logger levels, so say once why records are missing.
        logging.getLogger("ai_core").warning(
            "logging_level is %s, but logger %r only passes %s and above, so %s records are not "
            "exported; lower that logger's level (e.g. logging.getLogger(%r).setLevel(%r)) if "
            "you want them.",
            logging.getLevelName(level), target.name, logging.getLevelName(effective),
            logging.getLevelName(level), logger_name or "", logging.getLevelName(level),
        )
    return handler
