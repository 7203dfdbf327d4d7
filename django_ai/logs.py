"""Django's own request log lines, exported once and with their request.

- Django logs every uncaught exception on ``django.request`` ("Internal Server Error: /path",
  with the traceback) while the request span already carries that exception; exporting both
  would show each failure twice (the same for "Forbidden (Permission denied)"). The console
  and the user's own handlers still get the line.
- Django logs "Not Found: /path" after the middleware, when the request span has ended: the
  record is exported in its request's context, so it shows under that operation.
"""

from __future__ import annotations

import logging
from typing import Any, Optional


class _DuplicateRequestErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "django.request" or not record.exc_info:
            return True
        from opentelemetry import trace

        return not trace.get_current_span().is_recording()  # the request span has this exception


def _request_context(record: logging.LogRecord) -> Any:
    if record.name != "django.request":
        return None
    from django_ai.middleware import REQUEST_SPAN

    span = getattr(getattr(record, "request", None), "__dict__", {}).get(REQUEST_SPAN)
    if span is None:
        return None
    from opentelemetry import trace

    return trace.set_span_in_context(span)  # built here: most requests log nothing after their end


def export_django_request_records_once(handler: Optional[Any]) -> None:
    if handler is None:
        return
    if not any(isinstance(f, _DuplicateRequestErrors) for f in handler.filters):
        handler.addFilter(_DuplicateRequestErrors())
    handler.add_context_finder(_request_context)
