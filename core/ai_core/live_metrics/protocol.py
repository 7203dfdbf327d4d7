"""The Live Metrics (QuickPulse) wire protocol: one ping or post, its headers, and the answer.

From the published service definition (Azure/azure-rest-api-specs,
``specification/applicationinsights/ApplicationInsights.LiveMetrics``):

* ``POST {live}/QuickPulseService.svc/ping?api-version=2024-04-01-preview&ikey=...`` with one
  ``MonitoringDataPoint`` as the body, and the process's identity in headers too
  (``x-ms-qps-stream-id``, ``-machine-name``, ``-instance-name``, ``-role-name``,
  ``-invariant-version``);
* ``POST {live}/QuickPulseService.svc/post?...`` with an array of one data point;
* both send ``x-ms-qps-transmission-time`` (.NET ticks: 100 ns since 0001-01-01) and
  ``x-ms-qps-configuration-etag``;
* the answer says ``x-ms-qps-subscribed``, ``x-ms-qps-configuration-etag``,
  ``x-ms-qps-service-polling-interval-hint`` (ms) and
  ``x-ms-qps-service-endpoint-redirect-v2``; its body, when the configuration changed, is a
  ``CollectionConfigurationInfo`` (to ping and to post alike).

Plain ``http.client`` as for ingestion (ai_core.delivery.transport): no instrumentation we
enable patches it, so these calls are never traced. Never raises: an answer with status 0
says what went wrong. The Entra ID token (the ``credential`` option) only travels over https.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import quote

from ai_core.delivery.transport import USER_AGENT, Target, new_connection, read_proxy_environment, select_proxy

logger = logging.getLogger("ai_core")

API_VERSION = "2024-04-01-preview"
INVARIANT_VERSION = 1
_TICKS_AT_UNIX_EPOCH = 621355968000000000  # .NET ticks of 1970-01-01T00:00:00Z
_MAX_ANSWER = 1024 * 1024  # a configuration is a few KB; never read more than this

H_SUBSCRIBED = "x-ms-qps-subscribed"
H_ETAG = "x-ms-qps-configuration-etag"
H_POLLING_HINT = "x-ms-qps-service-polling-interval-hint"
H_REDIRECT = "x-ms-qps-service-endpoint-redirect-v2"


def dotnet_ticks(unix_time_s: float) -> int:
    """``x-ms-qps-transmission-time``: 100 ns intervals since 0001-01-01 (UTC)."""
    return _TICKS_AT_UNIX_EPOCH + int(round(unix_time_s * 10_000_000))


def header_safe(value: Any) -> str:
    """A header value http.client can send: latin-1, no line breaks (a role name may be anything)."""
    text = str(value).replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return text.encode("latin-1", "replace").decode("latin-1")


@dataclass
class LiveAnswer:
    """What the service answered to one ping or post. ``status`` 0: no answer (see ``error``)."""

    status: int
    subscribed: bool = False
    etag: Optional[str] = None
    polling_hint_s: Optional[float] = None
    redirect: Optional[str] = None
    configuration: Optional[Dict[str, Any]] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Identity:
    """Who is streaming: one process (own stream id and instance, README "Live Metrics")."""

    stream_id: str
    machine_name: str
    instance: str
    role_name: str


class LiveClient:
    """Pings and posts to one live endpoint (which a redirect may change); one kept-alive
    connection, used by the one Live Metrics thread of the process."""

    def __init__(
        self, endpoint: str, ikey: str, token_provider: Any = None, timeout_s: float = 10.0,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._ssl_context = ssl_context  # None: the system's trust store
        self._ikey = ikey
        self._token_provider = token_provider
        self._timeout = timeout_s
        self._conn: Optional[http.client.HTTPConnection] = None
        self._conn_origin: Optional[str] = None
        self._proxy_env = read_proxy_environment()
        self._lock = threading.Lock()

    def follow_redirect(self, location: str) -> None:
        """Use ``location`` (already allowed by ``endpoint.redirect_allowed``) from now on."""
        self.endpoint = location.strip().rstrip("/")
        self.close()

    def url(self, operation: str) -> str:
        return "%s/QuickPulseService.svc/%s?api-version=%s&ikey=%s" % (
            self.endpoint, operation, API_VERSION, quote(self._ikey, safe=""))

    def ping(self, point: Dict[str, Any], identity: Identity, etag: str, now_s: float) -> LiveAnswer:
        headers = {
            "x-ms-qps-stream-id": header_safe(identity.stream_id),
            "x-ms-qps-machine-name": header_safe(identity.machine_name),
            "x-ms-qps-instance-name": header_safe(identity.instance),
            "x-ms-qps-role-name": header_safe(identity.role_name),
            "x-ms-qps-invariant-version": str(INVARIANT_VERSION),
        }
        return self._send("ping", point, headers, etag, now_s)

    def post(self, point: Dict[str, Any], etag: str, now_s: float) -> LiveAnswer:
        return self._send("post", [point], {}, etag, now_s)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    # -- one request ---------------------------------------------------------------------------
    def _send(self, operation: str, body: Any, extra: Dict[str, str], etag: str, now_s: float) -> LiveAnswer:
        with self._lock:
            try:
                return self._send_locked(operation, body, extra, etag, now_s)
            except Exception as exc:  # whatever happens, the caller gets an answer
                self.close()
                return LiveAnswer(0, error="%s: %s" % (type(exc).__name__, _short(exc)))

    def _send_locked(self, operation: str, body: Any, extra: Dict[str, str], etag: str, now_s: float) -> LiveAnswer:
        target = Target.parse(self.url(operation))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "x-ms-qps-transmission-time": str(dotnet_ticks(now_s)),
            "x-ms-qps-configuration-etag": header_safe(etag or ""),
        }
        headers.update(extra)
        if self._token_provider is not None:
            if not target.https:
                return LiveAnswer(0, error="refusing to send an Entra ID token over plain http to %s" % target.origin)
            headers["Authorization"] = "Bearer " + self._token_provider.token()
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        for attempt in (1, 2):
            conn, reused = self._connection(target)
            try:
                conn.request("POST", target.path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read(_MAX_ANSWER + 1)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if reused and attempt == 1:
                    continue  # the kept-alive connection had been closed by the server
                return LiveAnswer(0, error="%s: %s" % (type(exc).__name__, _short(exc)))
            if response.will_close:
                self.close()
            return _answer(response, raw)
        return LiveAnswer(0, error="unreachable")  # pragma: no cover

    def _connection(self, target: Target) -> "tuple[http.client.HTTPConnection, bool]":
        if self._conn is not None and self._conn_origin == target.origin:
            return self._conn, True
        self.close()
        proxy = select_proxy(target, self._proxy_env)
        conn = new_connection(target, proxy, self._timeout, self._ssl_context if target.https else None)
        self._conn, self._conn_origin = conn, target.origin
        return conn, False


def _answer(response: http.client.HTTPResponse, raw: bytes) -> LiveAnswer:
    answer = LiveAnswer(response.status)
    answer.subscribed = (response.getheader(H_SUBSCRIBED) or "").strip().lower() == "true"
    answer.etag = response.getheader(H_ETAG)
    answer.redirect = response.getheader(H_REDIRECT) or None
    hint = response.getheader(H_POLLING_HINT)
    if hint:
        try:
            ms = float(hint)
            if ms > 0:
                answer.polling_hint_s = ms / 1000.0
        except ValueError:
            pass
    if not answer.ok:
        answer.error = "HTTP %d" % response.status
        return answer
    if raw and len(raw) <= _MAX_ANSWER:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and ("DocumentStreams" in body or "Metrics" in body or "ETag" in body):
            answer.configuration = body
    return answer


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def new_stream_id() -> str:
    """A fresh stream id: 32 hex digits, new in every process (a forked child gets its own)."""
    return os.urandom(16).hex()


def machine_name() -> str:
    try:
        return socket.gethostname() or "unknown"
    except Exception:
        return "unknown"


def utc_now_iso(unix_time_s: Optional[float] = None) -> str:
    t = time.time() if unix_time_s is None else unix_time_s
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%07dZ" % int((t - whole) * 10_000_000)
