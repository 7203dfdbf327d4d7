"""Flask's URL rules as request names and as the names ``excluded_routes`` matches.

A request is named by its rule as written (``GET /items/<int:item_id>``, blueprint prefixes
included); a path no rule matched is ``GET /<not found>`` (README, "Deliberate differences" 4).
"""

from __future__ import annotations

from typing import Any, List, Optional

from ai_core.web.naming import route_template


def request_route(request: Any) -> str:
    """The route of the request being served, or the fixed not-found route."""
    rule = getattr(request, "url_rule", None)
    return route_template(rule.rule if rule is not None else None)


def route_names(app: Any, environ: Any) -> List[str]:
    """The names ``excluded_routes`` may use for this request, found before the app runs (so
    the request span can be dropped at its start): the endpoint (``"health"``,
    ``"blueprint.endpoint"``) and the rule (``"/health"``). Matched the way Flask itself will
    match it, with the app's URL adapter (host, subdomain and ``SERVER_NAME`` rules included)."""
    adapter: Optional[Any] = app.create_url_adapter(app.request_class(environ))
    if adapter is None:
        return []
    try:
        rule, _args = adapter.match(return_rule=True)
    except Exception:  # 404, 405, a redirect: no route of this app
        return []
    return [rule.endpoint, rule.rule]
