"""The one layer the stock instrumentation lacks: ``Http404`` and ``PermissionDenied`` are
answers, not failures.

The stock middleware records every exception a view raises as an exception item, and Django
raises ``Http404`` for every missing page. Placed right inside the stock middleware, this
one answers those two the way Django itself would (``response_for_exception``), so the
stock middleware sees a 404/403 response and no exception. Other middleware's
``process_exception`` still sees them first (they run innermost first).
"""

from __future__ import annotations

from typing import Any, Optional

from django.utils.deprecation import MiddlewareMixin


class AnswerClientErrorsMiddleware(MiddlewareMixin):
    """Inserted into ``MIDDLEWARE`` by ``django_ai`` at start-up; never listed by the user."""

    def process_exception(self, request: Any, exception: BaseException) -> Optional[Any]:
        from django.core.exceptions import PermissionDenied
        from django.core.handlers.exception import response_for_exception
        from django.http import Http404

        if isinstance(exception, (Http404, PermissionDenied)):
            return response_for_exception(request, exception)
        return None
