"""Which requests produce no telemetry at all (``excluded_urls``, ``excluded_routes``).

Exclusion is a sampling decision at span start, so an excluded request has no request, no
failure and no child dependencies: children of a dropped local parent are dropped by the
sampler. ``excluded_urls`` are regexes searched in the URL *path* only (never the query
string, which would let a client opt itself out with ``?health``).

Route names belong to an app, not to the process: every adapter (Django, Flask, FastAPI;
several apps may share a process, each with its own route table) asks
:meth:`Exclusion.excludes` with the route names it matched and runs an excluded request inside
:func:`excluded_request`. The process's own rules (``configure(excluded_urls=...)`` with no
adapter) reach the sampler through :meth:`Exclusion.excludes_span_start`.

An adapter serving an excluded request inside :func:`excluded_request` must call the app
*without* the stock WSGI/ASGI middleware: that middleware starts the server span in the
context it extracts from the request headers, which does not carry the flag, so the request
would be traced after all. Spans the app starts itself (SQL, HTTP calls, logs) run in the
current context and are dropped.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Optional, Pattern, Sequence, Tuple

from opentelemetry import context as otel_context

_EXCLUDED = otel_context.create_key("ai_core.excluded_request")


@contextmanager
def excluded_request() -> Iterator[None]:
    """Run the code of an excluded request: every span it starts is dropped at the sampler."""
    token = otel_context.attach(otel_context.set_value(_EXCLUDED, True))
    try:
        yield
    finally:
        otel_context.detach(token)


def is_excluded_context(context: Optional[Any] = None) -> bool:
    """True inside :func:`excluded_request` (``context`` None: the current one)."""
    return otel_context.get_value(_EXCLUDED, context) is True


def path_from_attributes(attributes: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The URL path of a server span's start attributes, old or new semantic conventions."""
    if not attributes:
        return None
    path = attributes.get("url.path")
    if path:
        return str(path)
    target = attributes.get("http.target")
    if target:
        return str(target).split("?", 1)[0]
    url = attributes.get("url.full") or attributes.get("http.url")
    if url:
        rest = str(url).split("://", 1)[-1]
        slash = rest.find("/")
        return rest[slash:].split("?", 1)[0] if slash >= 0 else "/"
    return None


class Exclusion:
    """Decides from a request path whether the request is excluded."""

    def __init__(
        self,
        urls: Sequence[Pattern[str]] = (),
        routes: Sequence[str] = (),
    ) -> None:
        self._urls: Tuple[Pattern[str], ...] = tuple(urls)
        self._routes = frozenset(routes)

    def __bool__(self) -> bool:
        return bool(self._urls or self._routes)

    def excludes(self, path: Optional[str], route_names: Iterable[str] = ()) -> bool:
        """Whether a request is excluded, given its path and the route names the app matched
        (Django URL name, Flask endpoint, FastAPI route name or template)."""
        if path is not None:
            for pattern in self._urls:
                if pattern.search(path):
                    return True
            if path in self._routes:  # a path template given literally
                return True
        return bool(self._routes) and not self._routes.isdisjoint(route_names)

    def excludes_span_start(self, attributes: Optional[Mapping[str, Any]], name: str = "") -> bool:
        """The sampler's hook: only spans that describe an incoming HTTP request match."""
        if not self:
            return False
        path = path_from_attributes(attributes)
        return path is not None and self.excludes(path)
