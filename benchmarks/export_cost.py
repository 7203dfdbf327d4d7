"""Export-thread CPU per exported item, and garbage collection per request, measured in place.

The Flask benchmark app (``web_apps/hello_flask.py``, hello ``/`` or ``/realistic``) is called
in-process through Flask's test client, with the whole pipeline on (``ours``: conversion,
telemetry processors, JSON, gzip, HTTP to a local sink, through ``flask_ai``) or the floor: the
stock instrumentations with do-nothing exporters (the contrib WSGI middleware that
``flask_ai`` builds on, sqlite3, urllib and the OpenTelemetry logging bridge, each with the
SDK's batch processor: ``web_apps/modes.py``, ``floor_provider``). Requests and the export
thread interleave as under a server, so the spans are converted cache-cold, as in production.

Figures are CPU time, not wall time (a shared machine's load does not inflate them):

- export thread: the CPU clock of the exporting thread (``time.pthread_getcpuclockid``) over a
  round, divided by the items the sink received in that round (``ours``; the floor's
  do-nothing exporter is reported per span);
- GC: the thread CPU time spent between ``gc.callbacks`` start and stop, on every thread,
  divided by the requests of the round, and the collections per 1,000 requests by generation.

Each round serves ``--requests`` requests, then flushes; the median and min of the rounds are
printed.

    .venv/bin/python benchmarks/export_cost.py [--mode ours|floor] [--route hello|realistic]
        [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT_THREADS = ("ai_core-export", "OtelBatchSpan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_sink() -> "tuple[subprocess.Popen[bytes], str]":
    port = _free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sink.py"), "--port", str(port)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # "sink listening"
    return proc, "http://127.0.0.1:%d" % port


def _sink_items(url: str) -> int:
    return json.loads(urllib.request.urlopen(url + "/count", timeout=5).read())["items"]


class GcMeter:
    """Thread CPU time inside collections, and collections per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.collections = [0, 0, 0]
        self._started: Dict[int, float] = {}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: Dict[str, Any]) -> None:
        tid = threading.get_ident()
        if phase == "start":
            self._started[tid] = time.thread_time()
        else:
            began = self._started.pop(tid, None)
            if began is not None:
                self.cpu_s += time.thread_time() - began
            self.collections[info["generation"]] += 1

    def reset(self) -> None:
        self.cpu_s = 0.0
        self.collections = [0, 0, 0]


def _export_thread() -> Optional[threading.Thread]:
    for thread in threading.enumerate():
        if thread.name.startswith(EXPORT_THREADS):
            return thread
    return None


def _thread_cpu_s(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("ours", "floor"), default="ours")
    parser.add_argument("--route", choices=("hello", "realistic"), default="hello")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--general-only", action="store_true",
                        help="convert every span by the general path (no envelopes.span_bytes, log_bytes): the 'before' of that step")
    args = parser.parse_args()

    sink_proc, sink = _start_sink()
    try:
        os.environ["BENCH_MODE"] = "ours" if args.mode == "ours" else "plain"
        os.environ["BENCH_CS"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + sink
        os.environ["APPLICATIONINSIGHTS_LIVE_METRICS"] = "false"
        sys.path.insert(0, os.path.join(HERE, "web_apps"))
        import logging

        logging.getLogger("bench").setLevel(logging.WARNING)
        if args.general_only:
            from ai_core import exporters

            exporters.span_item = lambda *_args: None  # type: ignore[assignment]
            exporters.log_item = lambda *_args: None  # type: ignore[assignment]
        from hello_flask import app  # noqa: E402  (configures ours for BENCH_MODE=ours)

        if args.mode == "floor":
            _instrument_floor(app)

        client = app.test_client()
        path = "/" if args.route == "hello" else "/realistic"
        flush = _flusher(args.mode)
        for _ in range(300):  # warm-up: imports, caches, the export thread started
            client.get(path)
        flush()
        thread = _export_thread()
        if thread is None:
            raise SystemExit("no export thread found")
        meter = GcMeter()
        per_item: List[float] = []
        gc_us: List[float] = []
        gen: List[List[float]] = []
        for _ in range(args.rounds):
            items_before = _sink_items(sink) if args.mode == "ours" else 0
            spans_before = _SPANS[0]
            cpu_before = _thread_cpu_s(thread)
            meter.reset()
            for _ in range(args.requests):
                client.get(path)
            flush()
            cpu = _thread_cpu_s(thread) - cpu_before
            gc_us.append(meter.cpu_s * 1e6 / args.requests)
            gen.append([c * 1000.0 / args.requests for c in meter.collections])
            if args.mode == "ours":
                items = _sink_items(sink) - items_before
            else:
                items = _SPANS[0] - spans_before
            per_item.append(cpu * 1e6 / max(items, 1))
            print("round: export thread %.1f us/item (%d items), GC %.1f us/request, collections/1000 req %s"
                  % (per_item[-1], items, gc_us[-1], "/".join("%.0f" % g for g in gen[-1])), flush=True)
        print("%s %s, %d requests x %d rounds (thread CPU time): export thread median %.1f us/item "
              "(min %.1f); GC median %.1f us/request (min %.1f); gen0/1/2 collections per 1000 "
              "requests %s" % (
                  args.mode, args.route, args.requests, args.rounds,
                  statistics.median(per_item), min(per_item), statistics.median(gc_us), min(gc_us),
                  "/".join("%.0f" % statistics.median(g[i] for g in gen) for i in range(3))))
    finally:
        sink_proc.terminate()
        sink_proc.wait()


_SPANS = [0]


def _instrument_floor(app: Any) -> None:
    """The stock instrumentations with do-nothing exporters (``modes.floor_provider``); counts
    the spans exported."""
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    from modes import floor_provider

    def count(spans: int) -> None:
        _SPANS[0] += spans

    provider = floor_provider(on_spans=count)
    app.wsgi_app = OpenTelemetryMiddleware(app.wsgi_app, tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    URLLibInstrumentor().instrument(tracer_provider=provider)


def _flusher(mode: str) -> Any:
    if mode == "ours":
        from ai_core.configure import current

        def flush() -> None:
            telemetry = current()
            assert telemetry is not None
            telemetry.force_flush(timeout_s=60)

        return flush
    from opentelemetry import trace

    def flush_floor() -> None:
        trace.get_tracer_provider().force_flush(60_000)  # type: ignore[attr-defined]

    return flush_floor


if __name__ == "__main__":
    main()
