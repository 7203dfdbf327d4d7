"""Which requests produce no telemetry at all (``excluded_urls``, ``excluded_routes``).

Exclusion is a sampling decision at span start, so an excluded request has no request, no
failure and no child dependencies: children of a dropped local parent are dropped by the
sampler. ``excluded_urls`` are regexes searched in the URL *path* only (never the query
string, which would let a client opt itself out with ``?health``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Pattern, Sequence, Tuple

# Adapters that can name a route before the framework runs (Django URL names, Flask
# endpoints, FastAPI route names) register a resolver: path -> the names that path has.
RouteResolver = Callable[[str], Iterable[str]]


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
        self._resolvers: Tuple[RouteResolver, ...] = ()

    def __bool__(self) -> bool:
        return bool(self._urls or self._routes)

    def add_route_resolver(self, resolver: RouteResolver) -> None:
        if resolver not in self._resolvers:
            self._resolvers += (resolver,)

    def excludes_path(self, path: Optional[str]) -> bool:
        if path is None:
            return False
        for pattern in self._urls:
            if pattern.search(path):
                return True
        if self._routes:
            if path in self._routes:  # a path template given literally
                return True
            for resolver in self._resolvers:
                try:
                    names = resolver(path)
                except Exception:
                    continue
                if names and not self._routes.isdisjoint(names):
                    return True
        return False

    def excludes_span_start(self, attributes: Optional[Mapping[str, Any]], name: str = "") -> bool:
        """The sampler's hook: only spans that describe an incoming HTTP request match."""
        if not self:
            return False
        return self.excludes_path(path_from_attributes(attributes))
