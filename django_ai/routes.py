"""Django's URL patterns as request names (README, "Deliberate differences" 4).

``path()`` routes are used as written, with the leading ``/`` Django leaves out
(``GET /items/<int:pk>/``). ``re_path()`` routes are regexes, which read badly in the portal,
so they are turned into the same ``<name>`` form (``^articles/(?P<year>[0-9]{4})/$`` ->
``/articles/<year>/``).
"""

from __future__ import annotations

import functools
import re
from typing import Any, List, Optional

from ai_core.web.naming import route_template

_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)")
_GROUP = re.compile(r"\((?!\?)(?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)")
_NON_CAPTURING = re.compile(r"\(\?:((?:[^()\\]|\\.)*)\)")
_ANCHORS = re.compile(r"\^|\$|\\A|\\Z")
_ESCAPED = re.compile(r"\\(.)")
_REGEX_SIGNS = re.compile(r"[\^$()\[\]\\?*+{}|]")


@functools.lru_cache(maxsize=2048)  # an app has a fixed set of routes; this runs per request
def readable_route(route: str) -> str:
    """A ``re_path`` regex in the ``<name>`` form of ``path()`` routes; others unchanged."""
    if not _REGEX_SIGNS.search(route):
        return route
    text = _NAMED_GROUP.sub(lambda m: "<%s>" % m.group(1), route)
    text = _GROUP.sub("<var>", text)
    text = _NON_CAPTURING.sub(lambda m: m.group(1), text)
    text = _ANCHORS.sub("", text)
    text = _ESCAPED.sub(lambda m: m.group(1), text)
    return text.replace("?", "")


def request_route(request: Any) -> str:
    """The route template of a served request, or the fixed not-found route when no URL
    pattern matched (a 404 answered by Django itself)."""
    match = getattr(request, "resolver_match", None)
    route: Optional[str] = getattr(match, "route", None) if match is not None else None
    if match is None:
        return route_template(None)
    return route_template(readable_route(route or ""))


def route_names(path: str, urlconf: Optional[str] = None) -> List[str]:
    """The names ``excluded_routes`` may use for ``path``: the URL name and, in a namespace,
    ``"namespace:name"``. Asked by the sampler when a request starts (before Django routes it)."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return []
    names = [match.route] if match.route else []
    if match.url_name:
        names.append(match.url_name)
        if match.view_name and match.view_name != match.url_name:
            names.append(match.view_name)
    return names
