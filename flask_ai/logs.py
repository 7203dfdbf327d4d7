"""Flask's own log lines with telemetry on: on the console as before, exported once.

- Flask gives ``app.logger`` a console handler only when no handler up the logging chain takes
  its level. Our export handler (on the root logger by default) must not count as one, or
  Flask's error lines ("Exception on /path [GET]" and its traceback) would vanish from the
  console once telemetry is switched on.
- Flask logs every uncaught exception on ``app.logger`` after the request span recorded it
  (``flask_ai.signals``): exporting the line too would show each failure twice.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

# The uncaught exception recorded on the request's span, kept in the WSGI environ.
RECORDED_EXCEPTION = "flask_ai.recorded_exception"


def keep_flask_console_logging(app: Any, ours: Optional[logging.Handler]) -> None:
    """Add Flask's ``default_handler`` to the app's logger where Flask would have without us."""
    from flask.logging import default_handler

    if ours is None:
        return
    logger = logging.getLogger(app.name)  # what app.logger is (or will be)
    if default_handler not in logger.handlers and not _has_level_handler(logger, ours):
        logger.addHandler(default_handler)


def _has_level_handler(logger: logging.Logger, ignored: logging.Handler) -> bool:
    """``flask.logging.has_level_handler``, not counting ``ignored``."""
    level = logger.getEffectiveLevel()
    current: Optional[logging.Logger] = logger
    while current:
        if any(h.level <= level for h in current.handlers if h is not ignored):
            return True
        if not current.propagate:
            break
        current = current.parent
    return False


class _ExportedOnce(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        from flask import has_request_context, request

        return not (has_request_context() and request.environ.get(RECORDED_EXCEPTION) is exc)


def export_uncaught_exceptions_once(handler: Optional[logging.Handler]) -> None:
    if handler is not None and not any(isinstance(f, _ExportedOnce) for f in handler.filters):
        handler.addFilter(_ExportedOnce())
