"""A fake Live Metrics (QuickPulse) service on loopback, controlled by the test.

It answers ``POST /QuickPulseService.svc/ping|post`` as the service definition says
(Azure/azure-rest-api-specs, ApplicationInsights.LiveMetrics): ``x-ms-qps-subscribed``,
``x-ms-qps-configuration-etag``, the polling hint and redirect headers, and the configuration
body when the client's etag differs from its own. A test sets ``subscribed``, ``status``
(e.g. 401, 503), ``configuration``, ``polling_hint_ms`` and ``redirect_to``, and reads back
every call it got (``calls``), waiting on conditions with ``wait_for``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    operation: str  # "ping" or "post"
    query: Dict[str, str]
    headers: Dict[str, str]  # lower-case names
    body: Any
    at: float

    @property
    def point(self) -> Dict[str, Any]:
        """The MonitoringDataPoint (a ping's body, a post's only array element)."""
        return self.body[0] if isinstance(self.body, list) else self.body

    def metric(self, name: str) -> Optional[float]:
        for m in self.point.get("Metrics") or []:
            if m["Name"] == name:
                return m["Value"]
        return None

    @property
    def pid(self) -> Optional[int]:
        match = re.search(r"pid (\d+)", self.point.get("Instance", ""))
        return int(match.group(1)) if match else None


class FakeLiveService:
    def __init__(self, tls: Optional[Any] = None) -> None:
        """``tls``: an ``ssl.SSLContext`` (server side) to serve https instead of http."""
        self.subscribed = False
        self.status = 200
        self.configuration: Optional[Dict[str, Any]] = None  # sent when the client's etag differs
        self.polling_hint_ms: Optional[int] = None
        self.redirect_to: Optional[str] = None
        self.calls: List[Call] = []
        self._cond = threading.Condition()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                operation = parts.path.rsplit("/", 1)[-1]
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = None
                call = Call(operation, {k: v[0] for k, v in parse_qs(parts.query).items()},
                            {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                status, headers, payload = service._answer(call, parts.path)
                with service._cond:
                    service.calls.append(call)
                    service._cond.notify_all()
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls is not None else "http", self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def connection_string(self, ikey: str = "00000000-0000-0000-0000-0000000000aa", ingestion: Optional[str] = None) -> str:
        return "InstrumentationKey=%s;IngestionEndpoint=%s;LiveEndpoint=%s" % (ikey, ingestion or self.url, self.url)

    def _answer(self, call: Call, path: str) -> "tuple[int, Dict[str, str], Any]":
        if not path.startswith("/QuickPulseService.svc/") or call.operation not in ("ping", "post"):
            return 404, {}, None
        if self.status != 200:
            return self.status, {}, {"Code": "InvalidOperation", "Message": "fake failure"}
        headers = {"x-ms-qps-subscribed": "true" if self.subscribed else "false"}
        payload = None
        config = self.configuration
        if config is not None:
            headers["x-ms-qps-configuration-etag"] = config["ETag"]
            if call.headers.get("x-ms-qps-configuration-etag") != config["ETag"]:
                payload = config
        if self.polling_hint_ms is not None and call.operation == "ping":
            headers["x-ms-qps-service-polling-interval-hint"] = str(self.polling_hint_ms)
        if self.redirect_to and call.operation == "ping":
            headers["x-ms-qps-service-endpoint-redirect-v2"] = self.redirect_to
        return 200, headers, payload

    def wait_for(self, predicate: Callable[[List[Call]], bool], timeout: float = 60.0) -> List[Call]:
        """Wait until ``predicate(calls)`` holds (checked on every new call); the calls so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(list(self.calls)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("the fake Live Metrics service never saw what the test waited for; "
                                         "calls: %s" % [(c.operation, c.pid) for c in self.calls[-20:]])
                self._cond.wait(min(remaining, 1.0))
            return list(self.calls)

    def of(self, operation: str) -> List[Call]:
        with self._cond:
            return [c for c in self.calls if c.operation == operation]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeLiveService":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def portal_default_configuration(etag: str = "1::default::1") -> Dict[str, Any]:
    """What the portal sends when it opens: failed requests and dependencies, all exceptions,
    events and traces (the service definition's LiveMetrics_Post example)."""
    failed = {"Filters": [{"FieldName": "Success", "Predicate": "Equal", "Comparand": "false"}]}
    everything = {"Filters": []}
    return {
        "ETag": etag,
        "Metrics": [],
        "QuotaInfo": None,
        "DocumentStreams": [{
            "Id": "all-types-default",
            "DocumentFilterGroups": [
                {"TelemetryType": "Request", "Filters": failed},
                {"TelemetryType": "Dependency", "Filters": failed},
                {"TelemetryType": "Exception", "Filters": everything},
                {"TelemetryType": "Event", "Filters": everything},
                {"TelemetryType": "Trace", "Filters": everything},
            ],
        }],
    }
