"""One exception item per failed request.

Django logs every uncaught exception on ``django.request`` ("Internal Server Error: /path",
with the traceback) while the request span already carries that exception; exporting both
would show each failure twice. The console and the user's own handlers still get the line.
"""

from __future__ import annotations

import logging
from typing import Any, Optional


class _DropRequestErrorsInsideRequests(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "django.request" or not record.exc_info:
            return True
        from opentelemetry import trace

        return not trace.get_current_span().is_recording()  # outside a traced request: keep it


def drop_duplicate_request_errors(handler: Optional[Any]) -> None:
    if handler is not None and not any(isinstance(f, _DropRequestErrorsInsideRequests) for f in handler.filters):
        handler.addFilter(_DropRequestErrorsInsideRequests())
