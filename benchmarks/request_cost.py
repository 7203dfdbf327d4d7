"""Request-thread CPU per Django request, measured in process: plain, floor and ours.

Django's WSGI handler is called directly (no server, no sockets on the way in), ``--requests``
times per round, and the CPU time of the calling thread (``time.thread_time``) is divided by
the requests; the process's CPU time (``time.process_time``: the export thread included, each
round ends with a flush) is printed next to it. CPU time, not wall time, so other work on a
shared machine does not inflate the figures the way it inflates req/s (it still moves them:
caches and the core's clock are shared).

Routes: ``hello`` (``/``, a fixed text) and ``realistic`` (``/realistic``: one sqlite3 query,
one ``requests`` call to a local server, one warning log line). Modes, each in its own process
(Django's settings are configured once per process):

- ``plain``: no telemetry;
- ``floor``: the stock OpenTelemetry instrumentations with do-nothing exporters behind the
  SDK's batch processors: ``DjangoInstrumentor``, sqlite3, requests, and the logging bridge
  (what the product switches on, at the cost of the instrumentation itself;
  ``web_apps/modes.py``, ``floor_provider``);
- ``ours``: ``django_ai`` in ``INSTALLED_APPS``, everything on, sending to ``sink.py``.

The three modes are three processes alive side by side; rounds alternate between them (order
reversed every other round), so a machine whose speed drifts hurts them alike, and each ratio
is the median of the per-round ratios, with their range.

    .venv/bin/python benchmarks/request_cost.py [--route hello|realistic|both] [--requests 1000]
        [--rounds 10] [--modes plain,floor,ours]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = ("plain", "floor", "ours")
PATHS = {"hello": "/", "realistic": "/realistic"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# The child: one mode, rounds of either route on request
# ---------------------------------------------------------------------------------------------

def _configure_django(mode: str, sink: str) -> Any:
    from django.conf import settings

    cs = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + sink
    settings.configure(
        DEBUG=False, ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, SECRET_KEY="benchmark-only", MIDDLEWARE=[],
        INSTALLED_APPS=["django_ai"] if mode not in ("plain", "floor") else [], DATABASES={},
        APPLICATION_INSIGHTS={"CONNECTION_STRING": cs, "ROLE_NAME": "bench-django"},
        LOGGING_CONFIG=None,
    )
    if mode == "floor":
        _instrument_floor()
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def _instrument_floor() -> None:
    """The stock instrumentations with do-nothing exporters (``web_apps/modes.py``'s
    ``floor_provider``, as every floor)."""
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_apps"))
    from modes import floor_provider

    provider = floor_provider()
    DjangoInstrumentor().instrument(tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    RequestsInstrumentor().instrument(tracer_provider=provider)


_SINK = [""]


def hello(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse("Hello, World!")


def realistic(request: Any) -> Any:
    import logging
    import sqlite3

    import requests
    from django.http import HttpResponse

    conn = sqlite3.connect(":memory:")
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
    finally:
        conn.close()
    requests.get(_SINK[0] + "/ping", timeout=5).content
    logging.getLogger("bench").warning("served the realistic route")
    return HttpResponse("ok")


def _urlpatterns() -> List[Any]:
    from django.urls import path

    return [path("", hello), path("realistic", realistic)]


def _environ(path: str) -> Dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "RAW_URI": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk", "HTTP_ACCEPT": "*/*", "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, "wsgi.errors": sys.stderr,
    }


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    if not status.startswith("200"):
        raise SystemExit("the benchmark route answered %s" % status)
    return None


def _flusher(mode: str) -> Any:
    if mode not in ("plain", "floor"):
        from ai_core.configure import current

        return lambda: current().force_flush(timeout_s=60)  # type: ignore[union-attr]
    if mode == "floor":
        from opentelemetry import trace
        from opentelemetry._logs import get_logger_provider

        def flush() -> None:
            trace.get_tracer_provider().force_flush(60_000)  # type: ignore[attr-defined]
            get_logger_provider().force_flush(60_000)  # type: ignore[attr-defined]

        return flush
    return lambda: None


class GcMeter:
    """Thread CPU time inside collections on every thread, and collections per generation
    (``gc.callbacks``), as ``export_cost.py`` measures them."""

    def __init__(self) -> None:
        import gc
        import threading

        self._ident = threading.get_ident
        self.cpu_s = 0.0
        self.collections = [0, 0, 0]
        self._started: Dict[int, float] = {}
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: Dict[str, Any]) -> None:
        tid = self._ident()
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


def child(mode: str, sink: str) -> None:
    """Serve rounds on request: a line ``<route> <requests>`` in, a JSON line of figures out."""
    import logging

    _SINK[0] = sink
    logging.getLogger("bench").setLevel(logging.WARNING)
    # A handler in every mode, so plain does not pay logging's last-resort write to stderr.
    logging.getLogger().addHandler(logging.NullHandler())
    handler = _configure_django(mode, sink)
    urlpatterns[:] = _urlpatterns()  # this module is the URL conf (ROOT_URLCONF)

    def serve(route: str, n: int) -> None:
        template = _environ(PATHS[route])
        for _ in range(n):
            environ = dict(template)
            environ["wsgi.input"] = io.BytesIO(b"")
            body = handler(environ, _start_response)
            for _chunk in body:
                pass
            body.close()

    flush = _flusher(mode)
    for route in PATHS:
        serve(route, 300)  # warm-up: imports, caches, the export thread started
    flush()
    gc_meter = GcMeter()
    print("ready", flush=True)
    for line in sys.stdin:
        route, count = line.split()
        n = int(count)
        gc_meter.reset()
        t0, p0 = time.thread_time(), time.process_time()
        serve(route, n)
        t1 = time.thread_time()
        flush()
        p1 = time.process_time()
        print(json.dumps({"thread_us": (t1 - t0) * 1e6 / n, "process_us": (p1 - p0) * 1e6 / n,
                          "gc_us": gc_meter.cpu_s * 1e6 / n,
                          "collections": [c * 1000 / n for c in gc_meter.collections]}), flush=True)


urlpatterns: List[Any] = []  # filled in the child once Django is set up


# ---------------------------------------------------------------------------------------------
# The parent: a sink, the three workers, rounds interleaved
# ---------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", choices=("hello", "realistic", "both"), default="both")
    parser.add_argument("--requests", type=int, default=1000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--before", metavar="TREE",
                        help="also mode 'before': ours from another checkout of the repository (e.g. "
                             "`git worktree add /tmp/before HEAD~1`), interleaved with the others")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=TREE",
                        help="also mode NAME: ours from the checkout TREE (repeatable; as --before)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # mode,sink
    args = parser.parse_args()
    if args.child:
        mode, sink = args.child.split(",", 1)
        child(mode, sink)
        return

    modes = [m for m in args.modes.split(",") if m]
    trees = dict(t.split("=", 1) for t in args.tree)
    if args.before:
        trees["before"] = args.before
    for name in trees:
        modes.insert(modes.index("ours") if "ours" in modes else len(modes), name)
    routes = ["hello", "realistic"] if args.route == "both" else [args.route]
    port = _free_port()
    sink_proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sink.py"), "--port", str(port)],
                                 stdout=subprocess.PIPE)
    assert sink_proc.stdout is not None
    sink_proc.stdout.readline()  # "sink listening"
    sink = "http://127.0.0.1:%d" % port
    env = dict(os.environ, APPLICATIONINSIGHTS_LIVE_METRICS="false")
    for key in [k for k in env if k.startswith("OTEL_")]:
        env.pop(key)
    workers: Dict[str, Any] = {}
    results: Dict[tuple, List[Dict[str, float]]] = {}
    try:
        for mode in modes:
            worker_env = env
            if mode in trees:
                tree = os.path.abspath(trees[mode])
                worker_env = dict(env, PYTHONPATH=os.pathsep.join((tree, os.path.join(tree, "core"))))
            workers[mode] = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--child", "%s,%s" % (mode, sink)],
                env=worker_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE)
        for mode, worker in workers.items():
            if worker.stdout.readline().strip() != "ready":
                raise SystemExit("the %s worker did not start" % mode)
        for r in range(args.rounds):
            for route in routes:
                for mode in (modes if r % 2 == 0 else modes[::-1]):
                    worker = workers[mode]
                    worker.stdin.write("%s %d\n" % (route, args.requests))
                    worker.stdin.flush()
                    figures = json.loads(worker.stdout.readline())
                    results.setdefault((route, mode), []).append(figures)
            print("round %d: %s" % (r + 1, "; ".join(
                "%s %s" % (route, " ".join("%s %.0f" % (m, results[(route, m)][-1]["thread_us"]) for m in modes))
                for route in routes)), flush=True)
    finally:
        for worker in workers.values():
            worker.stdin.close()
            worker.wait()
        sink_proc.terminate()
        sink_proc.wait()
    print("\n%d rounds of %d requests per mode and route, modes interleaved round by round; CPU us per "
          "request: min (median) of the rounds; ratios: median of the per-round ratios (range)"
          % (args.rounds, args.requests))
    print("GC: CPU inside collections on every thread (the round's flush included), us per request, "
          "median of the rounds; collections gen0/1/2 per 1,000 requests, median of the rounds")
    print("| route | mode | request thread, us | process (export thread incl.), us | request thread / floor "
          "| GC us | collections |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for route in routes:
        floor = [f["thread_us"] for f in results.get((route, "floor"), [])]
        for mode in modes:
            rows = results[(route, mode)]
            thread = [f["thread_us"] for f in rows]
            process = [f["process_us"] for f in rows]
            ratio = ""
            if floor:
                ratios = [t / f for t, f in zip(thread, floor)]
                ratio = "%.2f (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))
            collections = "/".join("%.0f" % statistics.median(f["collections"][g] for f in rows) for g in range(3))
            print("| %s | %s | %.0f (%.0f) | %.0f (%.0f) | %s | %.1f | %s |" % (
                route, mode, min(thread), statistics.median(thread), min(process), statistics.median(process),
                ratio, statistics.median(f["gc_us"] for f in rows), collections))


if __name__ == "__main__":
    main()
