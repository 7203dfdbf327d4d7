"""One HTTP POST of an encoded batch to the ingestion endpoint, over a kept-alive connection.

Plain ``http.client`` on purpose: no instrumentation we enable patches it, so our own export
requests can never be traced and exported again (README, "Delivery"), and it costs nothing at
import time.

What this module does, and what it leaves to the sender:

- Keep-alive: one connection, reused. A kept-alive socket found dead before sending (the server
  closed it while idle) is replaced transparently, once. A failure after the request went out is
  reported as status 0 and never re-sent here: the server may have processed it, and whether to
  send again is the sender's decision.
- Timeouts: ``connect_timeout`` covers TCP connect, the proxy CONNECT and the TLS handshake;
  ``read_timeout`` covers sending the request and waiting for/reading the answer.
- Proxies: ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (any case), read once when the Transport
  is created. http targets go through the proxy as absolute-URI requests; https targets through a
  CONNECT tunnel. Credentials in the proxy URL become ``Proxy-Authorization: Basic``.
- Redirects: 307/308 to the same host (any port) switch the target permanently and re-send the
  body; any other host is refused. At most ``MAX_REDIRECTS`` in a row.
- Entra ID: with a ``token_provider`` each request carries ``Authorization: Bearer``, and only
  over https.
- Secrets: header values are never logged; error texts are scrubbed of every credential we know.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import select
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import unquote, urljoin, urlsplit

from ai_core.delivery.auth import TokenError
from ai_core.forking import ForkWatch, reset_lock_after_fork
from ai_core.version import __version__

logger = logging.getLogger(__name__)

USER_AGENT = "appinsights-otel/%s" % __version__
MAX_REDIRECTS = 10
_REDIRECTS = (307, 308)
_ERROR_LIMIT = 500  # characters of an error text
_SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "x-api-key")


@dataclass
class TrackResponse:
    """What the endpoint answered. ``status`` 0 means no answer (network error)."""

    status: int
    items_received: int = 0
    items_accepted: int = 0
    errors: List[Dict[str, Any]] = field(default_factory=list)
    retry_after: Optional[str] = None
    location: Optional[str] = None
    error: Optional[str] = None


def _parse_body(raw: bytes) -> Dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8")) if raw else {}
        return body if isinstance(body, dict) else {}
    except (ValueError, UnicodeDecodeError):
        return {}


# -- targets and proxies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where requests go: scheme, host, port and path (with query) of a URL (the track URL;
    Live Metrics' ping and post URLs too, ``ai_core.live_metrics.protocol``)."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> "Target":
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError("the endpoint URL must be http or https, not %r" % (parts.scheme,))
        if not parts.hostname:
            raise ValueError("the endpoint URL has no host")
        port = parts.port or (443 if scheme == "https" else 80)  # ValueError for a bad port
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(scheme, parts.hostname, port, path)

    @property
    def https(self) -> bool:
        return self.scheme == "https"

    @property
    def netloc(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        default = 443 if self.https else 80
        return host if self.port == default else "%s:%d" % (host, self.port)

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: safe to log (no path, query or user info)."""
        return "%s://%s" % (self.scheme, self.netloc)

    @property
    def url(self) -> str:
        return self.origin + self.path


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: Optional[str] = field(default=None, repr=False)  # "Basic ...", a secret

    @property
    def display(self) -> str:
        return "%s:%d" % (self.host, self.port)


class ProxyConfigError(ValueError):
    """A proxy variable we cannot use; the text never contains the proxy's credentials."""


def read_proxy_environment() -> Dict[str, str]:
    """The ``*_proxy`` variables that concern us, as ``urllib`` reads them (lower case wins).

    ``ALL_PROXY`` is deliberately not honoured: it is commonly a socks:// URL meant for other
    tools, which we cannot speak.
    """
    env = urllib.request.getproxies_environment()
    return {k: v for k, v in env.items() if k in ("http", "https", "no") and v}


def select_proxy(target: Target, proxy_env: Mapping[str, str]) -> Optional[Proxy]:
    """The proxy for ``target`` under ``proxy_env`` (see ``read_proxy_environment``), or None."""
    url = proxy_env.get(target.scheme)
    if not url:
        return None
    host_port = "%s:%d" % (target.host, target.port)
    if urllib.request.proxy_bypass_environment(host_port, dict(proxy_env)):
        return None
    return _parse_proxy_url(url, target.scheme)


def _parse_proxy_url(url: str, for_scheme: str) -> Proxy:
    variable = "%s_PROXY" % for_scheme.upper()
    if "://" not in url:
        url = "http://" + url  # "proxy:3128" means an http proxy, as for curl and urllib
    parts = urlsplit(url)
    if parts.scheme.lower() != "http":
        raise ProxyConfigError(
            "%s uses a %s:// proxy; only http:// proxies are supported (https targets are still "
            "tunnelled through them with CONNECT)" % (variable, parts.scheme)
        )
    try:
        host, port = parts.hostname, parts.port or 80
    except ValueError:
        raise ProxyConfigError("%s has an invalid port" % variable) from None
    if not host:
        raise ProxyConfigError("%s has no host" % variable)
    authorization = None
    if parts.username is not None:
        pair = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
        authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return Proxy(host, port, authorization)


# -- connections -------------------------------------------------------------------------------


def new_connection(
    target: Target, proxy: Optional[Proxy], timeout: float, ssl_context: Optional[ssl.SSLContext]
) -> http.client.HTTPConnection:
    """An unconnected connection to ``target``, direct or through ``proxy``.

    http through a proxy: a plain connection to the proxy (requests then use absolute URIs).
    https through a proxy: a TLS connection tunnelled with CONNECT; ``Proxy-Authorization`` goes
    only in the CONNECT request, never inside the tunnel.
    """
    if not target.https:
        if proxy is not None:
            return http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
        return http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    if proxy is None:
        return http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl_context
        )
    conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=timeout, context=ssl_context)
    tunnel_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
    conn.set_tunnel(target.host, target.port, headers=tunnel_headers)
    return conn


def _socket_dropped(sock: Optional[socket.socket]) -> bool:
    """True when an idle kept-alive socket cannot carry another request.

    An idle HTTP/1.1 connection has nothing to read; if it is readable, the server has closed it
    (EOF or reset) or sent something unexpected: either way it is not usable.
    """
    if sock is None:
        return True
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)
    except (OSError, ValueError):
        return True


class _SendFailed(Exception):
    """Raised by ``_send_once`` internals; carries the TrackResponse to return."""


# -- the transport -------------------------------------------------------------------------------


class Transport:
    """Posts gzip'd JSON batches to ``<endpoint>/v2.1/track``; one connection, reused.

    Thread-safe: batches from several export threads are sent one after another on the shared
    connection (the ingestion service is throughput-bound, not latency-bound, per connection).

    ``token_provider``: an object with ``token() -> str`` (``auth.BearerTokenProvider``), giving
    ``Authorization: Bearer <token>`` on every request; refused over plain http.
    ``ssl_context``: the TLS context for https (default: the system's trust store).
    """

    def __init__(
        self,
        track_url: str,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        headers: Optional[Dict[str, str]] = None,
        token_provider: Any = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self._setup_error: Optional[str] = None
        try:
            self._target = Target.parse(track_url)
        except ValueError as exc:  # reported by every post (status 0), never raised at start-up
            self._target = Target("http", "invalid.invalid", 80, "/")
            self._setup_error = "invalid ingestion URL: %s" % exc
            logger.error("cannot send telemetry: %s", self._setup_error)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if headers:
            self._headers.update(headers)
        self._token_provider = token_provider
        self._ssl_context = ssl_context
        self._proxy_env = read_proxy_environment()
        self._proxy: Optional[Proxy] = None
        self._proxy_error: Optional[str] = None
        if self._setup_error is None:
            self._select_proxy()
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()
        reset_lock_after_fork(self)  # a parent thread may be posting at fork time
        self._fork = ForkWatch(self._forget_connection)
        self._insecure_logged = False
        self._secrets: List[str] = []  # scrubbed from every error text

    @property
    def track_url(self) -> str:
        """The current target (it changes after a same-host 307/308)."""
        return self._target.url

    @property
    def proxy(self) -> Optional[str]:
        """``host:port`` of the proxy in use, or None (for diagnostics; never has credentials)."""
        return self._proxy.display if self._proxy else None

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _forget_connection(self) -> None:
        # In a forked child. The parent's kept-alive socket must not be shared: two processes
        # writing requests on one TCP stream would get each other's answers. Forget it (the
        # parent keeps using it; our copy of the descriptor is closed when garbage-collected,
        # which sends nothing).
        self._conn = None

    def post(self, body: bytes, extra_headers: Optional[Dict[str, str]] = None) -> TrackResponse:
        """Send one batch; never raises for network or protocol trouble (status 0 instead)."""
        with self._lock:
            try:
                return self._post(body, extra_headers)
            except Exception as exc:  # a bug or an odd library error must not reach the caller
                self._drop_connection()
                origin = self._target.origin
                logger.debug("unexpected %s while posting to %s", type(exc).__name__, origin)
                return self._failure(exc)

    # -- one post, following same-host redirects -------------------------------------------
    def _post(self, body: bytes, extra_headers: Optional[Dict[str, str]]) -> TrackResponse:
        redirects = 0
        while True:
            target = self._target
            if self._setup_error or self._proxy_error:
                return TrackResponse(status=0, error=self._setup_error or self._proxy_error)
            headers = dict(self._headers)
            if extra_headers:
                headers.update(extra_headers)
            refusal = self._add_authorization(target, headers)
            if refusal is not None:
                return refusal
            self._secrets = _secret_values(headers, self._proxy)
            result = self._send_once(target, body, headers)
            if result.status == 401 and self._token_provider is not None:
                invalidate = getattr(self._token_provider, "invalidate", None)
                if callable(invalidate):
                    invalidate()  # a revoked token: the sender's next attempt fetches a new one
            if result.status not in _REDIRECTS:
                return result
            new_target, why = _redirect_target(target, result.location)
            if new_target is None:
                result.error = why
                logger.warning("ingestion endpoint answered %d: %s", result.status, why)
                return result
            redirects += 1
            if redirects > MAX_REDIRECTS:
                result.error = "too many redirects (more than %d in a row)" % MAX_REDIRECTS
                logger.warning("ingestion endpoint: %s", result.error)
                return result
            self._switch_target(new_target)

    def _add_authorization(
        self, target: Target, headers: Dict[str, str]
    ) -> Optional[TrackResponse]:
        """Adds ``Authorization: Bearer``; a TrackResponse(status=0) when it cannot."""
        if self._token_provider is None:
            return None
        if not target.https:
            error = (
                "refusing to send an Entra ID bearer token over plain http to %s; "
                "the ingestion endpoint must be https" % target.origin
            )
            if not self._insecure_logged:
                self._insecure_logged = True
                logger.error("%s (batches are kept for later)", error)
            return TrackResponse(status=0, error=error)
        try:
            token = self._token_provider.token()
        except Exception as exc:  # TokenError, or whatever a custom provider raises
            text = str(exc) if isinstance(exc, TokenError) else "%s: %s" % (type(exc).__name__, exc)
            return TrackResponse(status=0, error=_truncate("no Entra ID token: %s" % text))
        headers["Authorization"] = "Bearer " + token
        return None

    def _switch_target(self, new_target: Target) -> None:
        old = self._target
        self._target = new_target
        if new_target == old:
            return  # a redirect to the very same URL: nothing to switch (the loop is bounded)
        if new_target.origin != old.origin:
            self._drop_connection()
            self._select_proxy()
        logger.info("ingestion endpoint redirected: now sending to %s", new_target.origin)

    def _select_proxy(self) -> None:
        try:
            self._proxy = select_proxy(self._target, self._proxy_env)
            self._proxy_error = None
        except ProxyConfigError as exc:
            self._proxy, self._proxy_error = None, str(exc)
            logger.error("cannot send telemetry: %s", exc)
        if self._proxy is not None:
            logger.debug("sending to %s through proxy %s", self._target.origin, self._proxy.display)

    # -- one request on the kept-alive connection ------------------------------------------
    def _send_once(self, target: Target, body: bytes, headers: Dict[str, str]) -> TrackResponse:
        path = target.path
        if self._proxy is not None and not target.https:
            path = target.url  # absolute URI for a forwarding proxy
            if self._proxy.authorization:
                headers = dict(headers, **{"Proxy-Authorization": self._proxy.authorization})
        for attempt in (1, 2):
            try:
                conn, reused = self._ready_connection()
            except _SendFailed as failed:
                return failed.args[0]
            try:
                conn.request("POST", path, body=body, headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                # Nothing (or only part of the request) reached the server, so it cannot have
                # processed it: on a reused socket that died while idle, reconnect once.
                self._drop_connection()
                if reused and attempt == 1 and not isinstance(exc, socket.timeout):
                    logger.debug("kept-alive connection to %s closed; reconnecting", target.origin)
                    continue
                if isinstance(exc, socket.timeout):
                    error = "sending timed out after %gs" % self._read_timeout
                    return TrackResponse(status=0, error=error)
                return self._failure(exc, "send failed")
            return self._read_response(conn)
        return TrackResponse(status=0, error="unreachable")  # pragma: no cover

    def _ready_connection(self) -> Tuple[http.client.HTTPConnection, bool]:
        """The kept-alive connection if it is still usable, else a freshly connected one."""
        self._fork.check()  # forked without the hooks (fork() called from C code): never reuse
        conn = self._conn
        if conn is not None and conn.sock is not None and not _socket_dropped(conn.sock):
            return conn, True
        self._drop_connection()
        conn = new_connection(self._target, self._proxy, self._connect_timeout, self._context())
        try:
            conn.connect()  # TCP, proxy CONNECT, TLS handshake: all under connect_timeout
        except socket.timeout:
            conn.close()
            where = "proxy %s" % self._proxy.display if self._proxy else self._target.origin
            error = "connect to %s timed out after %gs" % (where, self._connect_timeout)
            raise _SendFailed(TrackResponse(status=0, error=error)) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _SendFailed(self._failure(exc, "connect failed")) from None
        conn.sock.settimeout(self._read_timeout)
        self._conn = conn
        return conn, False

    def _read_response(self, conn: http.client.HTTPConnection) -> TrackResponse:
        # The request has gone out: from here on nothing is re-sent by the transport.
        try:
            resp = conn.getresponse()
            raw = resp.read()
        except socket.timeout:
            self._drop_connection()
            error = "no answer: read timed out after %gs" % self._read_timeout
            return TrackResponse(status=0, error=error)
        except (OSError, http.client.HTTPException) as exc:
            self._drop_connection()
            return self._failure(exc, "no answer")
        payload = _parse_body(raw)
        try:
            result = TrackResponse(
                status=resp.status,
                items_received=int(payload.get("itemsReceived") or 0),
                items_accepted=int(payload.get("itemsAccepted") or 0),
                errors=[e for e in (payload.get("errors") or []) if isinstance(e, dict)],
                retry_after=resp.getheader("Retry-After"),
                location=resp.getheader("Location"),
            )
        except (TypeError, ValueError):
            result = TrackResponse(
                status=resp.status,
                retry_after=resp.getheader("Retry-After"),
                location=resp.getheader("Location"),
            )
        if resp.will_close or conn.sock is None:
            self._drop_connection()
        return result

    def _context(self) -> Optional[ssl.SSLContext]:
        if not self._target.https:
            return None
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # closing a broken socket must not matter
                pass

    def _failure(self, exc: BaseException, what: str = "") -> TrackResponse:
        text = "%s: %s" % (type(exc).__name__, exc)
        if what:
            text = "%s: %s" % (what, text)
        return TrackResponse(status=0, error=_truncate(_scrub(text, self._secrets)))


# -- helpers -----------------------------------------------------------------------------------

def _redirect_target(current: Target, location: Optional[str]) -> Tuple[Optional[Target], str]:
    """Where a 307/308 may take us, or (None, why not)."""
    if not location or not location.strip():
        return None, "redirect without a Location header"
    try:
        new = Target.parse(urljoin(current.url, location.strip()))
    except ValueError:
        return None, "redirect to an unusable Location"
    if new.host.lower() != current.host.lower():
        return None, "refusing cross-host redirect to %s" % new.host
    if current.https and not new.https:
        return None, "refusing redirect from https to plain http"
    if new.path in ("", "/"):
        # A Location naming only the endpoint means: same API path on that endpoint.
        new = Target(new.scheme, new.host, new.port, current.path)
    return new, ""


def _secret_values(headers: Mapping[str, str], proxy: Optional[Proxy]) -> List[str]:
    """Values that must never appear in an error text: auth headers, tokens, proxy credentials."""
    secrets = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and value:
            secrets.append(value)
            if " " in value:
                secrets.append(value.split(" ", 1)[1])  # the bare token / credentials
    if proxy is not None and proxy.authorization:
        secrets.append(proxy.authorization)
        encoded = proxy.authorization.split(" ", 1)[1]
        secrets.append(encoded)
        try:
            secrets.append(base64.b64decode(encoded).decode("utf-8"))
        except ValueError:
            pass
    return sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)


def _scrub(text: str, secrets: List[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
        quoted = repr(secret)[1:-1]
        if quoted != secret and quoted in text:
            text = text.replace(quoted, "***")
    return text


def _truncate(text: str) -> str:
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 3] + "..."
