"""Request names (``ai.operation.name``): method and route template, never the raw path.

Application Insights groups the Performance and Failures views by operation name, so a name
must not contain IDs (``GET /items/42``) and unmatched paths must not each make a new
operation (a scanner probing ``/wp-admin.php`` would fill the list). Every adapter names
requests with these rules, so the three frameworks read the same way in the portal.
"""

from __future__ import annotations

from typing import Optional

NOT_FOUND_ROUTE = "/<not found>"
"""The route of a request no URL pattern matched (the framework answered 404 by itself)."""


def route_template(template: Optional[str]) -> str:
    """The route as the request's name shows it: with a leading ``/`` (Django's patterns have
    none), or :data:`NOT_FOUND_ROUTE` when the framework matched no route."""
    if template is None:
        return NOT_FOUND_ROUTE
    text = str(template).strip()
    if not text:
        return "/"  # Django's root pattern is the empty string
    return text if text.startswith("/") else "/" + text


def operation_name(method: Optional[str], template: Optional[str]) -> str:
    """``"GET /items/{id}"``: the method upper-cased, then :func:`route_template`."""
    verb = (method or "").strip().upper() or "_OTHER"  # OpenTelemetry's name for an unknown method
    return "%s %s" % (verb, route_template(template))
