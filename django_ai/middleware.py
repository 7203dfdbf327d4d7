"""The one layer the stock instrumentation lacks, placed right inside its middleware.

- ``process_view``: the route is named as soon as Django has resolved it, with its leading
  ``/`` (the stock middleware writes Django's ``items/<int:pk>/``), so dependencies and logs
  recorded while the view runs carry the request's final name.
- ``process_exception``: ``Http404`` and ``PermissionDenied`` are answers, not failures. The
  stock middleware records every exception a view raises as an exception item; this one
  answers those two the way Django itself would (``response_for_exception``), so the stock
  middleware sees a 404/403 response and no exception. Other middleware's
  ``process_exception`` still sees them first (they run innermost first).
"""

from __future__ import annotations

from typing import Any, Optional

from django.utils.deprecation import MiddlewareMixin

from opentelemetry import trace

from ai_core.web.annotation import annotate_request
from ai_core.web.guard import guarded
from django_ai.routes import request_route


class ApplicationInsightsMiddleware(MiddlewareMixin):
    """Inserted into ``MIDDLEWARE`` by ``django_ai`` at start-up; never listed by the user."""

    def process_view(self, request: Any, view_func: Any, view_args: Any, view_kwargs: Any) -> None:
        with guarded("naming the Django route"):
            annotate_request(trace.get_current_span(), route=request_route(request))
        return None

    def process_exception(self, request: Any, exception: BaseException) -> Optional[Any]:
        from django.core.exceptions import PermissionDenied
        from django.core.handlers.exception import response_for_exception
        from django.http import Http404

        if isinstance(exception, (Http404, PermissionDenied)):
            return response_for_exception(request, exception)
        return None
