"""A fast local stand-in for the ingestion endpoint: counts what arrives, answers like the
service, and serves the outbound call of the realistic route (``GET /ping``).

Run as ``python benchmarks/sink.py --port N``; ``GET /count`` gives the Request envelopes
received since ``POST /reset``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_requests = 0
_items = 0
_REQUEST_DATA = re.compile(rb'"baseType"\s*:\s*"RequestData"')


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, a kept-alive client
    # would wait ~40 ms for every answer's body.
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/count"):
            with _lock:
                body = json.dumps({"requests": _requests, "items": _items}).encode()
            return self._answer(200, body)
        return self._answer(200, b'{"pong": true}')

    def do_POST(self) -> None:  # noqa: N802
        global _requests, _items
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/reset"):
            with _lock:
                _requests = _items = 0
            return self._answer(200, b"{}")
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        # Counted in the bytes, not parsed: parsing every envelope cost ~10 us of CPU per item on
        # the machine the app under test shares, which only the modes that send paid for. Exact:
        # inside a JSON string a quote is escaped, so '"iKey"' and '"baseType":"RequestData"'
        # only match as an envelope's own key and value.
        n = raw.count(b'"iKey"')
        requests = len(_REQUEST_DATA.findall(raw))
        with _lock:
            _requests += requests
            _items += n
        self._answer(200, json.dumps({"itemsReceived": n, "itemsAccepted": n, "errors": []}).encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Sink)
    server.daemon_threads = True
    print("sink listening", port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
