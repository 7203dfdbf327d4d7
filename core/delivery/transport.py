"""One HTTP POST of an encoded batch to the ingestion endpoint, over a kept-alive connection.

Plain ``http.client`` on purpose: no instrumentation we enable patches it, so our own export
requests can never be traced and exported again (DESIGN.md section 4), and it costs nothing at
import time.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from ai_core.version import __version__

logger = logging.getLogger(__name__)

USER_AGENT = "appinsights-otel/%s" % __version__


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


class Transport:
    """Posts gzip'd JSON batches to ``<endpoint>/v2.1/track``; one connection, reused.

    Thread-safe: batches from several export threads are sent one after another on the shared
    connection (the ingestion service is throughput-bound, not latency-bound, per connection).
    """

    def __init__(
        self,
        track_url: str,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        parts = urlsplit(track_url)
        self.track_url = track_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
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
        self._conn: Optional[http.client.HTTPConnection] = None
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._connect_timeout)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def post(self, body: bytes, extra_headers: Optional[Dict[str, str]] = None) -> TrackResponse:
        """Send one batch; never raises for network or protocol trouble (status 0 instead)."""
        headers = dict(self._headers)
        if extra_headers:
            headers.update(extra_headers)
        with self._lock:
            # A kept-alive connection the server has closed fails on first use: retry once on
            # a fresh connection before calling it a network error.
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    conn.request("POST", self._path, body=body, headers=headers)
                    if conn.sock is not None:
                        conn.sock.settimeout(self._read_timeout)
                    resp = conn.getresponse()
                    raw = resp.read()
                    payload = _parse_body(raw)
                    result = TrackResponse(
                        status=resp.status,
                        items_received=int(payload.get("itemsReceived") or 0),
                        items_accepted=int(payload.get("itemsAccepted") or 0),
                        errors=list(payload.get("errors") or []),
                        retry_after=resp.getheader("Retry-After"),
                        location=resp.getheader("Location"),
                    )
                    if resp.getheader("Connection", "").lower() == "close":
                        self._drop_connection()
                    return result
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                    self._drop_connection()
                    if attempt == 2:
                        return TrackResponse(status=0, error="%s: %s" % (type(exc).__name__, exc))
                except (OSError, http.client.HTTPException, socket.timeout) as exc:
                    self._drop_connection()
                    return TrackResponse(status=0, error="%s: %s" % (type(exc).__name__, exc))
        return TrackResponse(status=0, error="unreachable")  # pragma: no cover

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

