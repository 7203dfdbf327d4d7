"""Realistic telemetry for the viewer: two role processes that call each other, made by our SDK.

``seed(connection_string)`` starts a *backend* process (a wsgiref app wrapped in OpenTelemetry's
WSGI middleware, so each call becomes a SERVER span continuing the caller's trace) and then a
*frontend* process whose SERVER spans call the backend with ``urllib`` and ``requests`` (both
instrumented by ``ai_core.configure()``), query SQLite, log, raise, track an event and record a
metric. Both flush before they exit. The result is what the viewer is for: two roles with an
edge frontend -> backend, external nodes (SQLite, an unreachable host), failures, a distributed
transaction with logs and exceptions under the right spans.

Run by hand against a running emulator to look at the viewer::

    python tests/viewer_data.py http://127.0.0.1:8990
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[2]

# Request names the frontend produces (the viewer tests look for them).
FRONTEND_REQUESTS = ["GET /checkout", "GET /products", "GET /slow-report", "POST /login"]
BACKEND_REQUESTS = ["GET /api/cart", "POST /api/pay", "GET /api/report"]
INVALID_MESSAGE_FIELD = "data.baseData.responseCode"

BACKEND = r'''
import logging, sqlite3, sys, threading, time
from wsgiref.simple_server import WSGIRequestHandler, make_server
import ai_core
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

tel = ai_core.configure(connection_string=CS, role_name="backend", role_instance="backend-1",
                        logging_level="INFO", disable_offline_storage=True)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("backend.api")
db = sqlite3.connect(":memory:", check_same_thread=False)
# Schema set-up as a script: executescript is not recorded, so only the requests' queries are.
db.executescript("CREATE TABLE cart (sku TEXT, qty INTEGER); INSERT INTO cart VALUES ('sku-1', 2), ('sku-7', 1);")

def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/api/cart":
        cur = db.cursor()
        cur.execute("SELECT sku, qty FROM cart WHERE qty > 0")
        rows = cur.fetchall()
        log.info("cart loaded with %d lines", len(rows))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"lines": 2}']
    if path == "/api/pay":
        try:
            raise RuntimeError("card declined by issuer")
        except RuntimeError:
            log.exception("payment failed")
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"declined"]
    if path == "/api/report":
        time.sleep(0.25)
        log.warning("report took a while")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"report"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app), handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT", server.server_port, flush=True)
sys.stdin.read()          # the parent closes stdin when the frontend is done
server.shutdown()
print("flushed", tel.force_flush(10), flush=True)
tel.shutdown()
'''

FRONTEND = r'''
import logging, sqlite3, time, urllib.error, urllib.request
import requests
import ai_core
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

tel = ai_core.configure(connection_string=CS, role_name="frontend", role_instance="web-1",
                        logging_level="INFO", disable_offline_storage=True)
logging.getLogger().setLevel(logging.INFO)
log = logging.getLogger("frontend.views")
tracer = trace.get_tracer("frontend")
orders = metrics.get_meter("frontend").create_counter("orders_placed")
db = sqlite3.connect(":memory:")
db.executescript("CREATE TABLE products (id INTEGER, name TEXT);")  # set-up, not recorded

def server_span(method, route, status):
    return tracer.start_as_current_span(method + " " + route, kind=SpanKind.SERVER, attributes={
        "http.request.method": method, "http.route": route, "url.path": route, "url.scheme": "http",
        "server.address": "shop.local", "client.address": "203.0.113.9",
        "http.response.status_code": status})

with server_span("GET", "/checkout", 500) as span:
    log.info("checkout started for user 42")
    urllib.request.urlopen(BACKEND + "/api/cart", timeout=5).read()
    reply = requests.post(BACKEND + "/api/pay", data=b"{}", timeout=5)
    log.warning("payment service answered %s", reply.status_code)
    try:
        raise ValueError("payment was not accepted")
    except ValueError as exc:
        log.exception("checkout failed")
        span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, "payment failed"))

with server_span("GET", "/products", 200):
    cur = db.cursor()  # the dbapi instrumentation traces cursors
    cur.execute("SELECT id, name FROM products WHERE name LIKE ?", ("%shoe%",))
    cur.fetchall()
    log.info("listed products")

with server_span("GET", "/slow-report", 200):
    urllib.request.urlopen(BACKEND + "/api/report", timeout=5).read()
    try:
        urllib.request.urlopen("http://127.0.0.1:9/unreachable", timeout=2)
    except (urllib.error.URLError, OSError):
        log.error("recommendations service unreachable")

with server_span("POST", "/login", 200):
    log.info("user 42 logged in")
    ai_core.track_event("UserLoggedIn", properties={"method": "password"}, measurements={"attempts": 1})

orders.add(3, {"region": "eu"})
ai_core.track_event("CheckoutCompleted", properties={"cart": "3"}, measurements={"total": 12.5})
print("flushed", tel.force_flush(10), flush=True)
tel.shutdown()
'''


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _program(body: str, **constants: str) -> List[str]:
    header = "".join("%s = %r\n" % (k, v) for k, v in constants.items())
    return [sys.executable, "-c", header + textwrap.dedent(body)]


def seed(connection_string: str, timeout: float = 30.0) -> None:
    """Run the backend and frontend processes against ``connection_string``; raise on failure."""
    backend = subprocess.Popen(_program(BACKEND, CS=connection_string), cwd=str(ROOT), env=_env(),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert backend.stdout is not None and backend.stdin is not None
        line = backend.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError("backend did not start: %r %s" % (line, backend.stderr.read() if backend.stderr else ""))
        backend_url = "http://127.0.0.1:%s" % line.split()[1]
        front = subprocess.run(_program(FRONTEND, CS=connection_string, BACKEND=backend_url),
                               cwd=str(ROOT), env=_env(), capture_output=True, text=True, timeout=timeout)
        if front.returncode != 0 or "flushed True" not in front.stdout:
            raise RuntimeError("frontend failed (%s): %s\n%s" % (front.returncode, front.stdout, front.stderr))
        out, err = backend.communicate("", timeout=timeout)
        if backend.returncode != 0 or "flushed True" not in out:
            raise RuntimeError("backend failed (%s): %s\n%s" % (backend.returncode, out, err))
    finally:
        if backend.poll() is None:
            backend.kill()
            backend.communicate()


def request_envelope(name: str, role: str = "frontend", success: bool = True) -> Dict[str, object]:
    """A minimal valid request envelope timed now (for live-update checks)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    op = os.urandom(16).hex()
    return {
        "name": "Microsoft.ApplicationInsights.Request", "time": now,
        "iKey": "00000000-0000-0000-0000-000000000000",
        "tags": {"ai.cloud.role": role, "ai.operation.id": op, "ai.operation.name": name},
        "data": {"baseType": "RequestData", "baseData": {
            "ver": 2, "id": os.urandom(8).hex(), "name": name, "duration": "00:00:00.042",
            "responseCode": "200" if success else "500", "success": success}},
    }


def post_invalid(base_url: str) -> Dict[str, object]:
    """Post a valid trace and a request envelope without its required responseCode; returns the reply."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    good = {
        "name": "Microsoft.ApplicationInsights.Message", "time": now,
        "iKey": "00000000-0000-0000-0000-000000000000", "tags": {"ai.cloud.role": "frontend"},
        "data": {"baseType": "MessageData", "baseData": {
            "ver": 2, "message": "sent in the same batch as a broken item", "severityLevel": 1}},
    }
    bad = {
        "name": "Microsoft.ApplicationInsights.Request", "time": now,
        "iKey": "00000000-0000-0000-0000-000000000000", "tags": {"ai.cloud.role": "frontend"},
        "data": {"baseType": "RequestData", "baseData": {
            "ver": 2, "id": "00000000000000a1", "name": "GET /hand-made", "duration": "00:00:00.010",
            "success": True}},  # no "responseCode": the schema requires one
    }
    req = urllib.request.Request(base_url + "/v2.1/track", data=json.dumps([good, bad]).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:  # 206 is a success; 400 would mean both were refused
        return json.loads(err.read())

if __name__ == "__main__":
    url = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8990").rstrip("/")
    from ai_core.emulator import connection_string

    seed(connection_string(url))
    print(post_invalid(url))
