"""Transport over real HTTP: keep-alive, timeouts, proxies, redirects, Entra ID tokens, secrets.

Every test talks to small servers started here on 127.0.0.1 (port 0, in a thread): an ingestion
stand-in (optionally TLS, with a self-signed certificate made at test time by ``openssl``), and a
tiny forwarding/CONNECT proxy.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections import namedtuple
from dataclasses import dataclass
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional
from urllib.parse import urlsplit

import pytest

from ai_core.delivery import auth, transport as transport_module
from ai_core.delivery.auth import BearerTokenProvider, TokenError, scope_for
from ai_core.delivery.transport import Transport

AccessToken = namedtuple("AccessToken", ["token", "expires_on"])
OK = {"itemsReceived": 1, "itemsAccepted": 1, "errors": []}
BODY = b'[{"iKey": "00000000-0000-0000-0000-000000000000"}]'
TUNNEL_HOST = "ingest.example.invalid"  # only ever reached through the test proxy's tunnel


# -- servers -----------------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    connection: int


def reply(handler: BaseHTTPRequestHandler, status: int = 200, payload: Any = OK, headers: Optional[Dict[str, str]] = None) -> None:
    raw = json.dumps(payload).encode() if payload is not None else b""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


class _IngestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # type: ignore[attr-defined]
        super().setup()
        self.connection_id = self.server.new_connection()  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.connection_id)
        self.server.record(seen)  # type: ignore[attr-defined]
        self.server.behaviour(self, seen)  # type: ignore[attr-defined]

    def finish(self) -> None:
        if self.server.reset_on_close:  # type: ignore[attr-defined]
            try:  # close with RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        try:
            super().finish()
        except OSError:
            pass
        self.connection.close()
        self.server.connection_closed()  # type: ignore[attr-defined]

    def log_message(self, *args: Any) -> None:
        pass


class IngestServer(ThreadingHTTPServer):
    """Records every request; ``behaviour(handler, seen)`` answers (default: 200 OK)."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, behaviour: Optional[Callable[..., None]] = None, tls: Optional[ssl.SSLContext] = None,
                 idle_timeout: Optional[float] = None, reset_on_close: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _IngestHandler)
        self.behaviour = behaviour or (lambda handler, seen: reply(handler))
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.reset_on_close = reset_on_close
        self.requests: List[Seen] = []
        self.connections = 0
        self.closed = 0  # connections the server has closed
        self._lock = threading.Lock()
        self.release = threading.Event()  # set at teardown: frees handlers that wait forever
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def get_request(self):  # type: ignore[override]
        sock, addr = super().get_request()
        if self.tls is not None:
            sock.settimeout(5)
            sock = self.tls.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, addr

    def new_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    def connection_closed(self) -> None:
        with self._lock:
            self.closed += 1

    def wait_closed(self, count: int, timeout: float = 10.0) -> None:
        """Until the server has closed ``count`` connections (an idle timeout on a loaded
        machine may fire late: sleeping a fixed time would race with it)."""
        deadline = time.monotonic() + timeout
        while self.closed < count:
            assert time.monotonic() < deadline, "the server did not close the idle connection"
            time.sleep(0.01)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, host: str = "127.0.0.1", path: str = "/v2.1/track") -> str:
        return "%s://%s:%d%s" % ("https" if self.tls else "http", host, self.port, path)

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        server: ProxyServer = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.seen.append(("%s %s" % (self.command, self.path), dict(self.headers.items())))
        if server.require_auth and self.headers.get("Proxy-Authorization") != server.require_auth:
            reply(self, 407, None, {"Proxy-Authenticate": 'Basic realm="test"'})
            return
        url = urlsplit(self.path)
        forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-authorization", "connection", "host")}
        upstream = HTTPConnection(url.hostname, url.port or 80, timeout=5)
        try:
            upstream.request("POST", url.path or "/", body=body, headers=forwarded)
            resp = upstream.getresponse()
            raw = resp.read()
        finally:
            upstream.close()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_CONNECT(self) -> None:
        server: ProxyServer = self.server  # type: ignore[assignment]
        server.seen.append(("CONNECT %s" % self.path, dict(self.headers.items())))
        if server.require_auth and self.headers.get("Proxy-Authorization") != server.require_auth:
            reply(self, 407, None, {"Proxy-Authenticate": 'Basic realm="test"'})
            self.close_connection = True
            return
        if server.tunnel_to is None:
            reply(self, 502, None)
            self.close_connection = True
            return
        upstream = socket.create_connection(server.tunnel_to, timeout=5)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        client = self.connection
        try:  # pipe bytes both ways until one side closes
            while not server.release.is_set():
                readable, _, _ = select.select([client, upstream], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


class ProxyServer(ThreadingHTTPServer):
    """Forwards absolute-URI POSTs; CONNECT tunnels to ``tunnel_to`` whatever host is asked."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, require_auth: Optional[str] = None, tunnel_to: Optional[tuple] = None) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.require_auth = require_auth
        self.tunnel_to = tunnel_to
        self.seen: List[tuple] = []
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def servers() -> Iterator[List[Any]]:
    """Collects servers made in a test and stops them at the end."""
    made: List[Any] = []
    yield made
    for server in made:
        server.stop()


def ingest(servers: List[Any], *args: Any, **kwargs: Any) -> IngestServer:
    server = IngestServer(*args, **kwargs)
    servers.append(server)
    return server


def proxy(servers: List[Any], **kwargs: Any) -> ProxyServer:
    server = ProxyServer(**kwargs)
    servers.append(server)
    return server


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "REQUEST_METHOD"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def transports() -> Iterator[List[Transport]]:
    made: List[Transport] = []
    yield made
    for t in made:
        t.close()


def make(transports: List[Transport], url: str, **kwargs: Any) -> Transport:
    t = Transport(url, **kwargs)
    transports.append(t)
    return t


# -- TLS material --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1" % TUNNEL_HOST],
        check=True, capture_output=True, timeout=60,
    )
    return {"cert": cert, "key": key}


@pytest.fixture
def tls_server_context(tls_files: Dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls_files["cert"]), str(tls_files["key"]))
    return ctx


@pytest.fixture
def tls_client_context(tls_files: Dict[str, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files["cert"]))


class FakeCredential:
    def __init__(self, token: str = "tok-SECRET-1", lifetime: float = 3600.0, fail: Optional[Exception] = None,
                 delay: float = 0.0) -> None:
        self.token, self.lifetime, self.fail, self.delay = token, lifetime, fail, delay
        self.scopes: List[str] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            self.scopes.extend(scopes)
        if self.delay:
            time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return AccessToken(self.token, int(auth._now() + self.lifetime))


# -- basics and keep-alive ---------------------------------------------------------------------


def test_post_parses_the_track_response(servers, transports):
    payload = {"itemsReceived": 3, "itemsAccepted": 1, "errors": [{"index": 1, "statusCode": 429, "message": "x"}]}
    server = ingest(servers, lambda h, s: reply(h, 206, payload, {"Retry-After": "7"}))
    resp = make(transports, server.url()).post(BODY, extra_headers={"X-Extra": "1"})
    assert (resp.status, resp.items_received, resp.items_accepted, resp.retry_after) == (206, 3, 1, "7")
    assert resp.errors == payload["errors"] and resp.error is None
    seen = server.requests[0]
    assert seen.path == "/v2.1/track" and seen.body == BODY
    assert seen.headers["content-encoding"] == "gzip" and seen.headers["x-extra"] == "1"
    assert seen.headers["user-agent"].startswith("appinsights-otel/")


def test_many_posts_share_one_connection(servers, transports):
    server = ingest(servers)
    t = make(transports, server.url())
    for _ in range(25):
        assert t.post(BODY).status == 200
    assert len(server.requests) == 25
    assert server.connections == 1


def test_threads_share_the_connection_one_request_at_a_time(servers, transports):
    server = ingest(servers)
    t = make(transports, server.url())
    results: List[int] = []
    threads = [threading.Thread(target=lambda: results.extend(t.post(BODY).status for _ in range(5))) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [200] * 20 and server.connections == 1


def test_server_closing_idle_connection_reconnects_without_duplicates(servers, transports):
    server = ingest(servers, idle_timeout=0.2)  # the server drops a connection idle for 0.2 s
    t = make(transports, server.url())
    for n in range(1, 4):
        assert t.post(BODY).status == 200
        server.wait_closed(n)
    assert len(server.requests) == 3  # each delivered exactly once
    assert server.connections == 3


def test_connection_reset_while_idle_is_retried_once_on_a_fresh_connection(servers, transports, monkeypatch):
    # The server resets the idle socket; pretend our pre-send check missed it, so the send
    # itself fails (nothing reached the server): that one is re-sent on a new connection.
    server = ingest(servers, idle_timeout=0.2, reset_on_close=True)
    t = make(transports, server.url())
    assert t.post(BODY).status == 200
    server.wait_closed(1)
    monkeypatch.setattr(transport_module, "_socket_dropped", lambda sock: False)
    resp = t.post(BODY)
    assert resp.status == 200, resp.error
    assert len(server.requests) == 2 and server.connections == 2


def test_failure_after_the_request_was_sent_is_not_resent(servers, transports):
    calls = []

    def behaviour(handler, seen):
        calls.append(1)
        if len(calls) == 2:  # processed, then the connection drops before an answer
            handler.close_connection = True
        else:
            reply(handler)

    server = ingest(servers, behaviour)
    t = make(transports, server.url())
    assert t.post(BODY).status == 200
    resp = t.post(BODY)
    assert resp.status == 0 and resp.error and "no answer" in resp.error
    # A sentinel batch after it (the transport recovers on a new connection): a resend of the
    # second batch would have been recorded before it, so no pause is needed before counting.
    assert t.post(b'["sentinel"]').status == 200
    assert [s.body for s in server.requests] == [BODY, BODY, b'["sentinel"]']  # the second batch was not sent twice
    assert server.connections == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_uses_its_own_connection_even_while_the_parent_posts(servers, transports):
    # The parent is in the middle of a slow post (holding the transport's lock, using its
    # socket) when it forks: the child must neither block nor write on the parent's socket.
    first = threading.Event()

    def behaviour(handler, seen):
        if not first.is_set():
            first.set()
            time.sleep(1.0)
        reply(handler)

    server = ingest(servers, behaviour)
    t = make(transports, server.url())
    parent_results: List[int] = []
    poster = threading.Thread(target=lambda: parent_results.append(t.post(BODY).status))
    poster.start()
    assert first.wait(5)
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            code = 0 if t.post(b"[1]").status == 200 and t.post(b"[2]").status == 200 else 1
        finally:
            os._exit(code)
    start = time.monotonic()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert time.monotonic() - start < 5
    poster.join()
    assert parent_results == [200] and t.post(BODY).status == 200
    assert sorted(s.body for s in server.requests) == sorted([BODY, BODY, b"[1]", b"[2]"])
    parent_conn = server.requests[0].connection
    assert {s.connection for s in server.requests if s.body == BODY} == {parent_conn}
    assert {s.connection for s in server.requests if s.body != BODY} != {parent_conn}


def test_connection_close_header_is_honoured(servers, transports):
    server = ingest(servers, lambda h, s: (reply(h, 200, OK, {"Connection": "close"}), setattr(h, "close_connection", True)))
    t = make(transports, server.url())
    for _ in range(3):
        assert t.post(BODY).status == 200
    assert server.connections == 3 and len(server.requests) == 3


def test_unusable_url_is_reported_by_post_not_raised(transports):
    resp = make(transports, "ftp://example.invalid/v2.1/track").post(BODY)
    assert resp.status == 0 and "invalid ingestion URL" in (resp.error or "")


def test_refused_connection_is_status_zero(transports):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    resp = make(transports, "http://127.0.0.1:%d/v2.1/track" % port).post(BODY)
    assert resp.status == 0 and "ConnectionRefusedError" in (resp.error or "")


# -- timeouts ----------------------------------------------------------------------------------


def test_read_timeout_when_the_server_never_answers(servers, transports):
    # Generous numbers for a loaded machine: the server would hold the request 300 s, the read
    # timeout is 2 s and the connect timeout 60 s; returning well before either of those proves
    # the read timeout applied.
    server = ingest(servers, lambda h, s: server.release.wait(300))
    t = make(transports, server.url(), connect_timeout=60, read_timeout=2)
    start = time.monotonic()
    resp = t.post(BODY)
    elapsed = time.monotonic() - start
    assert resp.status == 0 and "timed out" in (resp.error or "") and "read" in resp.error
    assert 2 <= elapsed < 40
    assert len(server.requests) == 1


def test_connect_timeout_is_separate_from_read_timeout(transports):
    # A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(c)
        time.sleep(0.1)  # set-up: the fillers' handshakes reach the backlog
        t = make(transports, "http://127.0.0.1:%d/v2.1/track" % port, connect_timeout=2, read_timeout=60)
        start = time.monotonic()
        resp = t.post(BODY)
        elapsed = time.monotonic() - start
        if resp.status == 0 and "refused" in (resp.error or "").lower():
            pytest.skip("this kernel refuses instead of dropping SYNs on a full backlog")
        assert resp.status == 0 and "connect" in resp.error and "timed out" in resp.error
        assert 2 <= elapsed < 40  # the 2 s connect timeout, not the 60 s read timeout
    finally:
        for c in fillers:
            c.close()
        listener.close()


def test_slow_answer_within_read_timeout_is_fine_with_short_connect_timeout(servers, transports):
    # The answer comes 3 s after the request, long after the 1 s connect timeout (a slow machine
    # only makes the gap longer) and well within the read timeout.
    server = ingest(servers, lambda h, s: (time.sleep(3), reply(h)))
    t = make(transports, server.url(), connect_timeout=1, read_timeout=120)
    assert t.post(BODY).status == 200


# -- proxies -------------------------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_http_target_goes_through_the_proxy_with_credentials(servers, transports, monkeypatch, variable):
    server = ingest(servers)
    p = proxy(servers, require_auth=_basic("user", "p@ss"))
    monkeypatch.setenv(variable, "http://user:p%%40ss@127.0.0.1:%d" % p.port)
    t = make(transports, server.url())
    assert t.proxy == "127.0.0.1:%d" % p.port
    for _ in range(2):
        resp = t.post(BODY)
        assert resp.status == 200, resp.error
    line, headers = p.seen[0]
    assert line == "POST %s" % server.url()  # absolute URI
    assert headers["Proxy-Authorization"] == _basic("user", "p@ss")
    assert headers["Host"] == "127.0.0.1:%d" % server.port
    assert [s.body for s in server.requests] == [BODY, BODY]
    assert "proxy-authorization" not in server.requests[0].headers


def test_proxy_refusing_credentials_gives_status_zero_without_secrets(servers, transports, monkeypatch):
    p = proxy(servers, require_auth=_basic("user", "right"))
    monkeypatch.setenv("HTTPS_PROXY", "http://user:wrong-secret@127.0.0.1:%d" % p.port)
    resp = make(transports, "https://%s/v2.1/track" % TUNNEL_HOST).post(BODY)
    assert resp.status == 0 and "407" in (resp.error or "")
    assert "wrong-secret" not in resp.error and _basic("user", "wrong-secret") not in resp.error
    assert p.seen[0][0] == "CONNECT %s:443" % TUNNEL_HOST


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,.example.com, 127.0.0.1", "*"])
def test_no_proxy_bypasses_the_proxy(servers, transports, monkeypatch, no_proxy):
    server = ingest(servers)
    p = proxy(servers)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:%d" % p.port)
    monkeypatch.setenv("no_proxy", no_proxy)
    t = make(transports, server.url())
    assert t.proxy is None
    assert t.post(BODY).status == 200
    assert p.seen == [] and len(server.requests) == 1


def test_proxy_environment_is_read_when_the_transport_is_created(servers, transports, monkeypatch):
    server = ingest(servers)
    t = make(transports, server.url())
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # set later: not used by this transport
    assert t.post(BODY).status == 200


def test_https_target_is_tunnelled_with_connect(servers, transports, monkeypatch, tls_server_context, tls_client_context):
    server = ingest(servers, tls=tls_server_context)
    p = proxy(servers, require_auth=_basic("u", "pw"), tunnel_to=("127.0.0.1", server.port))
    monkeypatch.setenv("HTTPS_PROXY", "http://u:pw@127.0.0.1:%d" % p.port)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # the http one must not be used
    provider = BearerTokenProvider(FakeCredential("tok-via-tunnel"), None)
    t = make(transports, "https://%s/v2.1/track" % TUNNEL_HOST, ssl_context=tls_client_context, token_provider=provider)
    for _ in range(3):
        resp = t.post(BODY)
        assert resp.status == 200, resp.error
    assert [line for line, _ in p.seen] == ["CONNECT %s:443" % TUNNEL_HOST]  # one tunnel, kept alive
    assert p.seen[0][1]["Proxy-Authorization"] == _basic("u", "pw")
    seen = server.requests[0]
    assert seen.path == "/v2.1/track" and seen.headers["host"] == TUNNEL_HOST
    assert seen.headers["authorization"] == "Bearer tok-via-tunnel"
    assert "proxy-authorization" not in seen.headers  # only in the CONNECT, never inside the tunnel
    assert server.connections == 1


def test_unsupported_proxy_scheme_is_a_clear_error(transports, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "socks5://me:hunter22@127.0.0.1:1080")
    resp = make(transports, "https://%s/v2.1/track" % TUNNEL_HOST).post(BODY)
    assert resp.status == 0 and "only http:// proxies" in (resp.error or "")
    assert "hunter22" not in resp.error


# -- redirects -----------------------------------------------------------------------------------


def test_same_host_redirect_switches_the_target_permanently(servers, transports, caplog):
    new = ingest(servers)
    old = ingest(servers, lambda h, s: reply(h, 308, None, {"Location": new.url()}))
    t = make(transports, old.url())
    caplog.set_level(logging.INFO, logger="ai_core.delivery.transport")
    for _ in range(3):
        resp = t.post(BODY)
        assert resp.status == 200, resp.error
    assert len(old.requests) == 1
    assert [s.body for s in new.requests] == [BODY] * 3
    assert t.track_url == new.url()
    assert sum("redirected" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO) == 1


def test_relative_location_and_root_location(servers, transports):
    new = ingest(servers)

    def behaviour(handler, seen):
        if seen.path == "/v2.1/track":
            reply(handler, 307, None, {"Location": "/v2/track"})
        else:
            reply(handler, 307, None, {"Location": "http://127.0.0.1:%d/" % new.port})

    old = ingest(servers, behaviour)
    t = make(transports, old.url())
    assert t.post(BODY).status == 200
    assert [s.path for s in old.requests] == ["/v2.1/track", "/v2/track"]
    assert new.requests[0].path == "/v2/track"  # a root-only Location keeps the API path


@pytest.mark.parametrize("status", [307, 308])
def test_cross_host_redirect_is_refused(servers, transports, status):
    other = ingest(servers)
    server = ingest(servers, lambda h, s: reply(h, status, None, {"Location": other.url(host="localhost")}))
    t = make(transports, server.url(), headers={"Authorization": "Bearer not-for-others"})
    resp = t.post(BODY)
    assert resp.status == status
    assert resp.error == "refusing cross-host redirect to localhost"
    assert other.requests == [] and t.track_url == server.url()


def test_redirect_without_location_is_refused(servers, transports):
    server = ingest(servers, lambda h, s: reply(h, 307, None))
    resp = make(transports, server.url()).post(BODY)
    assert resp.status == 307 and "Location" in (resp.error or "")
    assert len(server.requests) == 1


def test_redirect_loop_stops_after_ten(servers, transports):
    server = ingest(servers, lambda h, s: reply(h, 307, None, {"Location": server.url()}))
    resp = make(transports, server.url()).post(BODY)
    assert resp.status == 307 and "too many redirects" in (resp.error or "")
    assert len(server.requests) == 11  # the original request and ten follow-ups


def test_redirect_from_https_to_http_is_refused(servers, transports, tls_server_context, tls_client_context):
    plain = ingest(servers)
    server = ingest(servers, lambda h, s: reply(h, 308, None, {"Location": plain.url()}), tls=tls_server_context)
    resp = make(transports, server.url(), ssl_context=tls_client_context).post(BODY)
    assert resp.status == 308 and "plain http" in (resp.error or "")
    assert plain.requests == []


# -- Entra ID --------------------------------------------------------------------------------------


def test_scopes():
    assert scope_for(None) == "https://monitor.azure.com/.default"
    assert scope_for("") == "https://monitor.azure.com/.default"
    assert scope_for("https://monitor.azure.us/") == "https://monitor.azure.us/.default"
    assert scope_for("api://custom//") == "api://custom/.default"
    cred = FakeCredential()
    BearerTokenProvider(cred, "https://monitor.azure.cn").token()
    assert cred.scopes == ["https://monitor.azure.cn/.default"]


def test_provider_requires_a_credential():
    with pytest.raises(ValueError):
        BearerTokenProvider(object(), None)


def test_token_is_cached_until_five_minutes_before_expiry(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(auth, "_now", lambda: clock[0])
    cred = FakeCredential(lifetime=3600)
    provider = BearerTokenProvider(cred, None)
    assert provider.token() == "tok-SECRET-1"
    clock[0] += 3600 - 301
    provider.token()
    assert len(cred.scopes) == 1
    clock[0] += 2
    provider.token()
    assert len(cred.scopes) == 2
    provider.invalidate()
    provider.token()
    assert len(cred.scopes) == 3
    assert "tok-SECRET" not in repr(provider)


def test_token_fetch_is_thread_safe():
    cred = FakeCredential(delay=0.2)
    provider = BearerTokenProvider(cred, None)
    got: List[str] = []
    threads = [threading.Thread(target=lambda: got.append(provider.token())) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == ["tok-SECRET-1"] * 16 and len(cred.scopes) == 1


def test_bearer_header_over_tls(servers, transports, tls_server_context, tls_client_context):
    server = ingest(servers, tls=tls_server_context)
    cred = FakeCredential("tok-SECRET-tls")
    t = make(transports, server.url(), token_provider=BearerTokenProvider(cred, None), ssl_context=tls_client_context)
    for _ in range(3):
        resp = t.post(BODY)
        assert resp.status == 200, resp.error
    assert [s.headers["authorization"] for s in server.requests] == ["Bearer tok-SECRET-tls"] * 3
    assert len(cred.scopes) == 1 and server.connections == 1


def test_untrusted_certificate_is_a_network_error(servers, transports, tls_server_context):
    server = ingest(servers, tls=tls_server_context)
    resp = make(transports, server.url()).post(BODY)  # system trust store: self-signed refused
    assert resp.status == 0 and "CERTIFICATE_VERIFY_FAILED" in (resp.error or "")
    assert server.requests == []


def test_bearer_token_is_never_sent_over_plain_http(servers, transports, caplog):
    server = ingest(servers)
    cred = FakeCredential()
    t = make(transports, server.url(), token_provider=BearerTokenProvider(cred, None))
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        resp = t.post(BODY)
        assert resp.status == 0 and "plain http" in (resp.error or "")
    assert server.requests == [] and cred.scopes == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "plain http" in r.getMessage()]
    assert len(errors) == 1


def test_failing_credential_gives_status_zero_and_no_request(servers, transports, tls_server_context, tls_client_context):
    server = ingest(servers, tls=tls_server_context)
    cred = FakeCredential(fail=RuntimeError("managed identity endpoint unavailable"))
    t = make(transports, server.url(), token_provider=BearerTokenProvider(cred, None), ssl_context=tls_client_context)
    resp = t.post(BODY)
    assert resp.status == 0 and "managed identity endpoint unavailable" in (resp.error or "")
    assert server.requests == []


def test_a_401_makes_the_next_post_fetch_a_new_token(servers, transports, tls_server_context, tls_client_context):
    answers = iter([401, 200])
    server = ingest(servers, lambda h, s: reply(h, next(answers)), tls=tls_server_context)
    cred = FakeCredential()
    t = make(transports, server.url(), token_provider=BearerTokenProvider(cred, None), ssl_context=tls_client_context)
    assert t.post(BODY).status == 401
    assert t.post(BODY).status == 200
    assert len(cred.scopes) == 2


def test_bad_token_is_refused_without_showing_it(servers, transports, tls_server_context, tls_client_context):
    server = ingest(servers, tls=tls_server_context)
    cred = FakeCredential("tok-SECRET\r\nX-Injected: 1")
    t = make(transports, server.url(), token_provider=BearerTokenProvider(cred, None), ssl_context=tls_client_context)
    resp = t.post(BODY)
    assert resp.status == 0 and "invalid header value" in (resp.error or "")
    assert "tok-SECRET" not in resp.error and server.requests == []
    with pytest.raises(TokenError):
        BearerTokenProvider(cred, None).token()


# -- secrets ---------------------------------------------------------------------------------------


def test_error_texts_never_carry_header_secrets(servers, transports):
    server = ingest(servers)
    t = make(transports, server.url())
    resp = t.post(BODY, extra_headers={"Authorization": "Bearer tok-SECRET\nmore"})
    assert resp.status == 0 and resp.error
    assert "tok-SECRET" not in resp.error and "***" in resp.error


def test_nothing_secret_is_logged(servers, transports, monkeypatch, caplog, tls_server_context, tls_client_context):
    ikey = "00000000-0000-0000-0000-000000000000"
    new = ingest(servers, tls=tls_server_context)
    server = ingest(servers, lambda h, s: reply(h, 307, None, {"Location": new.url(host="localhost")}), tls=tls_server_context)
    caplog.set_level(logging.DEBUG)
    provider = BearerTokenProvider(FakeCredential("tok-SECRET-log"), None)
    t = make(transports, server.url(), token_provider=provider, ssl_context=tls_client_context)
    results = [t.post(BODY), t.post(BODY, extra_headers={"Cookie": "c-SECRET"})]
    monkeypatch.setenv("HTTPS_PROXY", "http://u:pw-SECRET@127.0.0.1:9")
    results.append(make(transports, new.url(), token_provider=provider, ssl_context=tls_client_context).post(BODY))
    text = caplog.text + " ".join(repr(r) for r in results)
    for secret in ("tok-SECRET", "c-SECRET", "pw-SECRET", ikey):
        assert secret not in text
