"""The HTTP layer: a threaded HTTP/1.1 server routing to track, Live Metrics, the JSON API and
static files.

HTTP/1.1 with keep-alive because the official exporter keeps its connection open; every reply
therefore carries a Content-Length. Paths are matched after collapsing repeated slashes: the
exporter posts to ``//v2.1/track`` when the connection string's endpoint ends with ``/``, and
an endpoint with a path prefix gives ``/prefix/v2.1/track``.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Optional, Set
from urllib.parse import parse_qs, unquote, urlsplit

from ai_core.emulator import api, static
from ai_core.emulator.app import EmulatorApp
from ai_core.emulator.request_guard import HostPolicy, form_refusal

MAX_BODY = 64 * 1024 * 1024  # a batch larger than this is not something an SDK sends
_SLASHES = re.compile(r"/{2,}")
_TRACK_SUFFIXES = ("/v2.1/track", "/v2/track")
_LIVE = re.compile(r"/QuickPulseService\.svc/(ping|post)$", re.IGNORECASE)


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many exporters and benchmark clients connect at once; the default backlog of 5 refuses.
    request_queue_size = 128

    def __init__(self, address: Any, app: EmulatorApp, log_requests: bool = False,
                 hosts: Optional[HostPolicy] = None) -> None:
        self.app = app
        self.log_requests = log_requests
        self.hosts = hosts or HostPolicy(str(address[0]))
        self._connections: Set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Remember open connections so that close_connections() can end keep-alive clients.
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients resetting or timing out is normal traffic here, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down every open client connection: after a stop, keep-alive clients must see
        the emulator gone instead of talking to a handler whose store is closed."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection is closed after this long (the client just reconnects),
    # so handler threads of vanished clients do not pile up.
    timeout = 120
    server_version = "AppInsightsEmulator/1.0"
    server: EmulatorHTTPServer

    # -- plumbing --------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.log_requests or format.startswith("internal error"):
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _read_body(self) -> Optional[bytes]:
        """The request body, or None after answering 400/413 (then the connection closes)."""
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
        except ValueError as exc:
            return self._refuse(400, "unreadable body framing: %s" % exc)
        if length > MAX_BODY:
            return self._refuse(413, "body larger than %d bytes" % MAX_BODY)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> Optional[bytes]:
        chunks = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:  # the same cap as for a declared length
                return self._refuse(413, "body larger than %d bytes" % MAX_BODY)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _refuse(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})
        self.close_connection = True
        return None

    def _send(self, status: int, body: bytes, content_type: Optional[str],
              headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self._is_track(self.path):
            # Browser SDKs post telemetry from their page's origin, as to the real service. Only
            # there: with CORS on the API, any web page open in the developer's browser could
            # read every captured item (URLs, SQL, user ids, log lines) or clear them.
            self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: Optional[Dict[str, str]] = None) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers)

    def _drop(self) -> None:
        """Close the socket without an answer: the client sees a connection error."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routing ---------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        try:
            refusal = self.server.hosts.refusal(self.headers.get("Host"))
            if refusal is not None:
                self._refuse(421, refusal)
                return
            if method == "OPTIONS":
                self._preflight()
                return
            self._route(method)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # a bug must answer 500, not hang the client
            self.log_error("internal error: %r", exc)
            self.close_connection = True
            try:
                self._send_json(500, {"error": "internal error: %r" % (exc,)})
            except OSError:
                pass

    @staticmethod
    def _is_track(raw_path: str) -> bool:
        path = _SLASHES.sub("/", unquote(urlsplit(raw_path).path)) or "/"
        return path.endswith(_TRACK_SUFFIXES)

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = _SLASHES.sub("/", unquote(url.path)) or "/"
        refusal = form_refusal(method, path, self.headers.get("Content-Type"),
                               self.headers.get("X-Requested-With"))
        if refusal is not None:
            self._refuse(403, refusal)
            return
        body = self._read_body() if method in ("POST", "PUT", "DELETE") else b""
        if body is None:
            return
        if path.endswith(_TRACK_SUFFIXES):
            if method != "POST":
                self._send_json(405, {"error": "use POST for %s" % path})
                return
            reply = self.server.app.track.handle(body, self.headers.get("Content-Encoding"))
            if reply.drop:
                self._drop()
            else:
                self._send_json(reply.status, reply.body, reply.headers)
            return
        live = _LIVE.search(path)
        if live is not None:
            if method != "POST":
                self._send_json(405, {"error": "use POST for %s" % path})
                return
            reply = self.server.app.live.handle(live.group(1).lower(), parse_qs(url.query),
                                                self.headers, body)
            if reply.body is None:  # the app's configuration is current: headers only
                self._send(reply.status, b"", None, reply.headers)
            else:
                self._send_json(reply.status, reply.body, reply.headers)
            return
        if path == "/api" or path.startswith("/api/"):
            try:
                status, obj = api.route(self.server.app, method, path,
                                        parse_qs(url.query, keep_blank_values=True), body)
            except api.ApiError as exc:
                status, obj = exc.status, {"error": str(exc)}
            self._send_json(status, obj)
            return
        if method in ("GET", "HEAD"):
            file = static.resolve(path)
            if file is not None:
                content, ctype = static.load(file)
                self._send(200, content, ctype, {"Cache-Control": "no-cache"})
                return
        self._send_json(404, {"error": "not found: %s" % path})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def _preflight(self) -> None:
        # CORS pre-flight for browser SDKs posting telemetry; the API and viewer are same-origin.
        if not self._is_track(self.path):
            self._send(204, b"", "text/plain")
            return
        self._send(204, b"", "text/plain", {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, Sdk-Context",
            "Access-Control-Max-Age": "3600",
        })
