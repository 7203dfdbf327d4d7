"""Envelope fields derived from span attributes: URLs, targets, sources, codes, properties.

Each function computes one field of a Request/RemoteDependency envelope from a span's
attribute mapping, following the official exporter's measured rules (tests/support/golden)
except where the README's "Deliberate differences" item 6 fixes an obvious defect; those places
say so in a comment. Everything here runs once per exported span, so lookups go through
precomputed tuples/frozensets and a per-key cache instead of regexes or repeated scans.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Mapping, Optional, Sequence
from urllib.parse import urlsplit, uses_params

from ai_core.envelopes.common import MAX_PROPERTY_KEY, MAX_PROPERTY_VALUE
from ai_core.request_attributes import client_ip_of

Attrs = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# Properties (customDimensions)
# ---------------------------------------------------------------------------------------------

# Attributes that already have a dedicated envelope field are not repeated as properties.
# ("fass." is the official spelling mistake: "faas.*" attributes are kept, so we keep them too.)
_STANDARD_PREFIXES = (
    "http.", "db.", "message.", "messaging.", "rpc.", "enduser.", "net.", "peer.",
    "exception.", "thread.", "fass.", "code.",
)
_STANDARD_KEYS = frozenset((
    "session.id", "_MS.sampleRate", "microsoft.custom_measurements", "ai.cloud.role",
    "client.address", "client.port", "server.address", "server.port",
    "url.full", "url.path", "url.query", "url.scheme", "url.template", "error.type",
    "network.local.address", "network.local.port", "network.protocol.name",
    "network.peer.address", "network.peer.port", "network.protocol.version",
    "network.transport", "user_agent.original", "user_agent.synthetic.type",
))
# GenAI message content is large by nature; the service accepts 256 KiB for these keys.
_GENAI_CONTENT_KEYS = frozenset((
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.definitions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "gen_ai.evaluation.explanation",
))
_GENAI_VALUE_LIMIT = 256 * 1024

# key -> value length limit, or 0 when the key is not a property. Attribute keys come from a
# small fixed vocabulary, so caching the decision turns ~25 string tests into one dict lookup.
_KEY_LIMITS: Dict[str, int] = {}
_KEY_CACHE_MAX = 4096


def _key_limit(key: str) -> int:
    if len(key) > MAX_PROPERTY_KEY or key in _STANDARD_KEYS or key.startswith(_STANDARD_PREFIXES):
        limit = 0
    elif key in _GENAI_CONTENT_KEYS:
        limit = _GENAI_VALUE_LIMIT
    else:
        limit = MAX_PROPERTY_VALUE
    if len(_KEY_LIMITS) >= _KEY_CACHE_MAX:  # unbounded key sets (ids in keys) must not grow it
        _KEY_LIMITS.clear()
    _KEY_LIMITS[key] = limit
    return limit


def custom_properties(attrs: Attrs) -> Dict[str, str]:
    """Span or event attributes as customDimensions: standard keys dropped, values ``str()``'d."""
    out: Dict[str, str] = {}
    limits = _KEY_LIMITS
    for key, value in attrs.items():
        limit = limits.get(key)
        if limit is None:
            limit = _key_limit(key)
        if not limit or value is None:
            continue
        out[key] = value[:limit] if value.__class__ is str else str(value)[:limit]
    return out


def links_property(links: Sequence[Any]) -> str:
    """``_MS.links``: the linked operations as ``json.dumps`` would write them, at most 103.

    Ids are hex digits, so the JSON text can be formatted directly (no escaping needed).
    """
    return "[" + ", ".join(
        '{"operation_Id": "%032x", "id": "%016x"}' % (link.context.trace_id, link.context.span_id)
        for link in links[:103]
    ) + "]"


# ---------------------------------------------------------------------------------------------
# Small shared pieces
# ---------------------------------------------------------------------------------------------

def status_code(attrs: Attrs) -> int:
    """HTTP status code as an int; 0 when absent or not a number."""
    code = attrs.get("http.response.status_code") or attrs.get("http.status_code")
    if not code:
        return 0
    if code.__class__ is int:
        return code
    try:
        return int(code)
    except (TypeError, ValueError):
        return 0


def url_path(url: str) -> Optional[str]:
    """``urlparse(url).path`` (parameters after ``;`` removed), or None for an unparsable URL.

    ``urlsplit`` is cached by the standard library while ``urlparse`` is not, so we split and
    drop the parameters of the last segment ourselves, the way ``urlparse`` does.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    path = parts.path
    if ";" in path and parts.scheme in uses_params:
        slash = path.rfind("/")
        cut = path.find(";", slash) if slash >= 0 else path.find(";")
        if cut >= 0:
            path = path[:cut]
    return path


def operation_name_from_url(method: Any, url: str) -> Optional[str]:
    """``"{method} {path}"`` with ``/`` for an empty path; None if the URL cannot be parsed."""
    path = url_path(url)
    if path is None:
        return None
    return "%s %s" % (method, path or "/")


def user_agent(attrs: Attrs) -> Optional[str]:
    return attrs.get("user_agent.original") or attrs.get("http.user_agent")


def client_ip(attrs: Attrs) -> Optional[str]:
    """``ai.location.ip`` of a request: the client's address as the adapter resolved it."""
    return client_ip_of(attrs)


_HTTP_DEFAULT_PORTS = {"http": 80, "https": 443}
_DB_DEFAULT_PORTS = {
    "postgresql": 5432, "cassandra": 9042, "mysql": 3306, "mariadb": 3306, "mssql": 1433,
    "microsoft.sql_server": 1433, "memcached": 11211, "db2": 50000, "oracle": 1521,
    "h2": 8082, "derby": 1527, "redis": 6379,
}


def default_http_port(attrs: Attrs) -> int:
    """80/443 for the span's URL scheme, 0 when the scheme is unknown."""
    return _HTTP_DEFAULT_PORTS.get(attrs.get("url.scheme") or attrs.get("http.scheme"), 0)


def db_system(attrs: Attrs) -> Any:
    return attrs.get("db.system.name") or attrs.get("db.system")


def default_db_port(attrs: Attrs) -> int:
    return _DB_DEFAULT_PORTS.get(db_system(attrs), 0)


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------

def http_request_url(attrs: Attrs) -> str:
    """The Request ``url``: the full URL if given, else rebuilt from scheme, host and target.

    Improvement (README, "Deliberate differences" 6): a rebuilt URL leaves out the scheme's default port and an
    empty query (the official one writes ``https://h:443/p`` and ``/p?``).
    """
    if "url.full" in attrs:
        return str(attrs["url.full"])
    if "http.url" in attrs:
        return str(attrs["http.url"])
    scheme = attrs.get("url.scheme") or attrs.get("http.scheme")
    if "url.path" in attrs:
        target = attrs["url.path"]
        query = attrs.get("url.query")
        if target and query:
            target = "%s?%s" % (target, query)
    else:
        target = attrs.get("http.target")
    if not scheme or not target:
        return ""
    default_port = _HTTP_DEFAULT_PORTS.get(scheme, 0)
    if "server.address" in attrs:
        host = str(attrs["server.address"])
        port = attrs.get("server.port")
        if port is not None and port != default_port:
            host = "%s:%s" % (host, port)
    elif "http.host" in attrs:
        host = str(attrs["http.host"])
        if default_port and host.endswith(":%d" % default_port):
            host = host[: host.rfind(":")]
    else:
        host = ""
    if not host:
        name = attrs.get("http.server_name")
        if name is None:
            name = attrs.get("net.host.name")
        if name is None:
            return ""
        port = attrs.get("net.host.port", "")
        host = str(name) if port == default_port else "%s:%s" % (name, port)
    return "%s://%s%s" % (scheme, host, target)


def http_request_name(attrs: Attrs, url: str, fallback: str) -> str:
    """``ai.operation.name`` of an HTTP request: method and route, else method and URL path."""
    method = attrs.get("http.request.method") or attrs.get("http.method")
    route = attrs.get("http.route")
    if route is not None:
        return "%s %s" % (method, route)
    if url:
        return operation_name_from_url(method, url) or fallback
    return fallback


def messaging_destination(attrs: Attrs) -> Any:
    """Improvement (README, "Deliberate differences" 6): the stable ``messaging.destination.name`` counts too."""
    return attrs.get("messaging.destination") or attrs.get("messaging.destination.name")


def messaging_request_source(attrs: Attrs) -> Optional[str]:
    dest = messaging_destination(attrs)
    if not dest:
        return None
    peer = attrs.get("client.address") or attrs.get("net.peer.name") or attrs.get("net.peer.ip")
    return "%s/%s" % (peer, dest) if peer else str(dest)


def azure_sdk_target(attrs: Attrs) -> Optional[str]:
    """``host/entity`` of an Azure SDK messaging span (Service Bus, Event Hubs)."""
    host = attrs.get("server.address") or attrs.get("net.peer.name") or attrs.get("peer.address")
    dest = attrs.get("messaging.destination.name") or attrs.get("message_bus.destination")
    if host and dest:
        return "%s/%s" % (host, dest)
    return None


def time_since_enqueued(start_ns: int, links: Sequence[Any]) -> float:
    """Mean ms between the linked messages' ``enqueuedTime`` and the span start, at least 0."""
    start_ms = start_ns / 1e6
    total = 0.0
    for link in links:
        enqueued = (link.attributes or {}).get("enqueuedTime")
        if enqueued.__class__ is int:
            total += start_ms - enqueued
    return max(0, total / len(links))


# ---------------------------------------------------------------------------------------------
# Dependencies
# ---------------------------------------------------------------------------------------------

def peer_target(attrs: Attrs) -> str:
    """``peer.service``, else the peer's name or IP with its port unless that port is default."""
    if "peer.service" in attrs:
        return str(attrs["peer.service"])
    target = attrs.get("net.peer.name")
    if target is None:
        target = attrs.get("net.peer.ip", "")
    port = attrs.get("net.peer.port")
    if port is not None:
        # default_http_port() and default_db_port(), inline: this runs for most dependencies
        http_default = _HTTP_DEFAULT_PORTS.get(attrs.get("url.scheme") or attrs.get("http.scheme"), 0)
        db_default = _DB_DEFAULT_PORTS.get(attrs.get("db.system.name") or attrs.get("db.system"), 0)
        if port != http_default and port != db_default:
            return "%s:%s" % (target, port)
    return str(target)


def http_dependency_url(attrs: Attrs) -> str:
    """The HTTP dependency ``data``: the full URL, else rebuilt from scheme, host and target."""
    if "url.full" in attrs:
        return str(attrs["url.full"])
    if "http.url" in attrs:
        return str(attrs["http.url"])
    scheme = attrs.get("http.scheme")
    if not scheme or "http.target" not in attrs:
        return ""
    target = attrs["http.target"]
    if "http.host" in attrs:
        return "%s://%s%s" % (scheme, attrs["http.host"], target)
    port = attrs.get("net.peer.port")
    if port is None:
        return ""
    host = attrs.get("net.peer.name")
    if host is None:
        host = attrs.get("net.peer.ip")
        if host is None:
            return ""
    return "%s://%s:%s%s" % (scheme, host, port, target)


def http_dependency_target(attrs: Attrs, url: str) -> str:
    """Where an HTTP call went: server address, peer service, Host header, URL host or peer.

    Improvement (README, "Deliberate differences" 6): without ``server.port`` the target is the host alone (the
    official exporter writes ``host:None``).
    """
    default_port = default_http_port(attrs)
    target: Any = ""
    if "server.address" in attrs:
        target = str(attrs["server.address"])
        port = attrs.get("server.port")
        if port is not None and port != default_port:
            target = "%s:%s" % (target, port)
    elif "peer.service" in attrs:
        target = str(attrs["peer.service"])
    elif "http.host" in attrs:
        host = str(attrs["http.host"])
        try:
            parsed = urlsplit("//" + host)
            target = parsed.hostname if parsed.port == default_port else host
        except ValueError:
            target = ""
    elif url:
        hit = _URL_HOSTS.get(url)
        if hit is None:
            hit = _url_host(url)
        port, hostname, netloc = hit
        target = (hostname or "") if port and port == default_port else netloc
    return target or peer_target(attrs)


# URL -> (port, hostname, netloc) of an HTTP dependency's URL: ``SplitResult.port`` and
# ``.hostname`` parse the address again at every access (~2 us together on the benchmark
# machine), and an app calls the same few URLs over and over. Bounded: URLs with ids in them
# only churn it.
_URL_HOSTS: Dict[str, Any] = {}
_URL_HOSTS_MAX = 1024


def _url_host(url: str) -> Any:
    try:
        parsed = urlsplit(url)
        hit = (parsed.port, parsed.hostname, parsed.netloc)
    except ValueError:  # an unparsable URL or port: no target from it
        hit = (None, None, "")
    if len(_URL_HOSTS) >= _URL_HOSTS_MAX:
        _URL_HOSTS.clear()
    _URL_HOSTS[url] = hit
    return hit


# db.system values shown as "SQL" in the portal; others (mysql, postgresql, mongodb, redis,
# and anything unknown) keep their own name.
_DB_SQL = frozenset((
    "db2", "ibm.db2", "derby", "mariadb", "mssql", "microsoft.sql_server", "oracle",
    "oracle.db", "sqlite", "other_sql", "hsqldb", "h2", "h2database",
))


def db_dependency_type(system: Any) -> str:
    if system in _DB_SQL:
        return "SQL"
    return str(system)


def db_statement(attrs: Attrs) -> Any:
    return (
        attrs.get("db.query.text") or attrs.get("db.statement")
        or attrs.get("db.operation.name") or attrs.get("db.operation")
    )


def db_dependency_target(attrs: Attrs, system: Any) -> str:
    """``host[:port]|database``, with whichever part is known; the system as a last resort."""
    target = peer_target(attrs)
    if not target and "server.address" in attrs:
        target = str(attrs["server.address"])
        port = attrs.get("server.port")
        if port is not None and port != _DB_DEFAULT_PORTS.get(system, 0):
            target = "%s:%s" % (target, port)
    name = attrs.get("db.namespace") or attrs.get("db.name")
    if name:
        return "%s|%s" % (target, name) if target else str(name)
    return target or str(system)


def messaging_dependency_target(attrs: Attrs) -> str:
    """The peer, else the destination, else the messaging system."""
    destination = messaging_destination(attrs) or attrs.get("messaging.system")
    return peer_target(attrs) or (str(destination) if destination else "")
