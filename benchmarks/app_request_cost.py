"""CPU per FastAPI or Flask request, measured in process: plain, floor, ours (and ours from
another checkout).

The benchmark apps of ``web.py`` (``web_apps/hello_fastapi.py``, ``web_apps/hello_flask.py``)
are called directly, without a server or sockets: FastAPI through its ASGI callable on one
event loop (lifespan started first, as uvicorn does), Flask through its WSGI callable.
Reported per request: the CPU time of the thread that serves it (``time.thread_time``: the
event loop's thread, or the WSGI caller's) and of the whole process (``time.process_time``:
the export thread and, for FastAPI's sync ``/realistic`` route, the thread pool included;
each round ends with a flush so the export of its requests is inside it). CPU time, not wall
time: other work on a shared machine inflates req/s far more than CPU time.

Modes (``web_apps/modes.py``): ``plain``, ``floor`` (the stock instrumentation with do-nothing
exporters), ``ours`` (the adapter, everything on, sending to ``sink.py``), and with
``--before DIR`` also ``before``: ours with ``DIR`` ahead on ``sys.path`` (a tree made with
``git archive <commit> core fastapi_ai flask_ai django_ai | tar -x -C DIR``; ``DIR/core`` is
added too); ``--tree NAME=DIR`` (repeatable) adds mode ``NAME`` the same way. Each mode is a process alive through the run; rounds alternate between them
(order reversed every other round), and each ratio is the median of the per-round ratios to
the floor, with their range.

    benchmarks/.venv/bin/python benchmarks/app_request_cost.py --framework fastapi|flask
        [--route hello|realistic] [--requests 2000] [--rounds 8] [--modes floor,ours] [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "web_apps")
PATHS = {"hello": "/", "realistic": "/realistic"}


# ---------------------------------------------------------------------------------------------
# The child: one mode, rounds of one route on request
# ---------------------------------------------------------------------------------------------

def _flush() -> None:
    mode = os.environ.get("BENCH_MODE")
    if mode == "ours":
        from ai_core.configure import current

        telemetry = current()
        if telemetry is not None:
            telemetry.force_flush()
    elif mode == "floor":
        from opentelemetry import trace

        flush = getattr(trace.get_tracer_provider(), "force_flush", None)
        if flush is not None:
            flush()


class FastAPIRunner:
    def __init__(self, path: str) -> None:
        import asyncio

        import hello_fastapi

        self.app = hello_fastapi.app
        self.loop = asyncio.new_event_loop()
        self.scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "scheme": "http", "method": "GET",
            "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"",
            "headers": [(b"host", b"127.0.0.1:8000")], "state": {},
        }
        self._lifespan()

    def _lifespan(self) -> None:
        import asyncio

        incoming: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        started = asyncio.Event()
        self._lifespan_queue = incoming

        async def receive() -> Dict[str, Any]:
            return await incoming.get()

        async def send(message: Dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                started.set()

        async def begin() -> None:
            self._lifespan_task = asyncio.ensure_future(
                self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
            await incoming.put({"type": "lifespan.startup"})
            await started.wait()

        self.loop.run_until_complete(begin())

    def run(self, n: int) -> None:
        app, template = self.app, self.scope

        async def receive() -> Dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Dict[str, Any]) -> None:
            pass

        async def batch() -> None:
            for _ in range(n):
                scope = dict(template)
                scope["headers"] = list(template["headers"])
                scope["state"] = {}
                await app(scope, receive, send)

        self.loop.run_until_complete(batch())

    def close(self) -> None:
        async def end() -> None:
            await self._lifespan_queue.put({"type": "lifespan.shutdown"})
            await self._lifespan_task

        self.loop.run_until_complete(end())
        self.loop.close()


class FlaskRunner:
    def __init__(self, path: str) -> None:
        from werkzeug.test import EnvironBuilder

        import hello_flask

        self.app = hello_flask.app
        builder = EnvironBuilder(path=path, base_url="http://127.0.0.1:8000", headers={"User-Agent": "wrk"})
        self.environ = builder.get_environ()
        self.environ["REMOTE_ADDR"] = "127.0.0.1"
        self.environ["REMOTE_PORT"] = "50000"
        self.environ["RAW_URI"] = path

    def run(self, n: int) -> None:
        app, template = self.app, self.environ

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            return None

        for _ in range(n):
            body = app(dict(template), start_response)
            try:
                for _chunk in body:
                    pass
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()

    def close(self) -> None:
        pass


def child(framework: str, route: str) -> None:
    runner = (FastAPIRunner if framework == "fastapi" else FlaskRunner)(PATHS[route])
    runner.run(50)  # warm-up: configuration, first-request work, caches
    _flush()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        thread0, process0 = time.thread_time(), time.process_time()
        runner.run(n)
        thread1 = time.thread_time()
        _flush()
        process1 = time.process_time()
        print(json.dumps({"thread_us": 1e6 * (thread1 - thread0) / n,
                          "process_us": 1e6 * (process1 - process0) / n}), flush=True)
    runner.close()


# ---------------------------------------------------------------------------------------------
# The parent: one process per mode, interleaved rounds
# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=("fastapi", "flask"), default="fastapi")
    parser.add_argument("--route", choices=tuple(PATHS), default="hello")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--modes", default="floor,ours")
    parser.add_argument("--before", help="a tree of the package to run as mode 'before'")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="also mode NAME: ours from the tree DIR (repeatable; as --before)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.framework, args.route)
        return 0

    sys.path.insert(0, HERE)
    from web import free_port  # noqa: E402  (benchmarks/web.py)

    sink_port = free_port()
    sink_proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sink.py"), "--port", str(sink_port)],
                                 stdout=subprocess.PIPE, text=True)
    sink_proc.stdout.readline()
    sink = "http://127.0.0.1:%d" % sink_port
    trees = dict(item.split("=", 1) for item in args.tree)
    if args.before:
        trees["before"] = args.before
    modes = [m for m in args.modes.split(",") if m] + list(trees)
    children: Dict[str, subprocess.Popen] = {}
    results: Dict[str, List[Dict[str, float]]] = {m: [] for m in modes}
    try:
        for mode in modes:
            env = dict(os.environ, BENCH_MODE="ours" if mode in trees else mode,
                       BENCH_CS="InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + sink,
                       OTEL_METRIC_EXPORT_INTERVAL="600000")
            for key in [k for k in env if k.startswith("APPLICATIONINSIGHTS_") or k.startswith("OTEL_S")]:
                env.pop(key)
            path = [APPS]
            if mode in trees:
                tree = os.path.abspath(trees[mode])
                path = [tree, os.path.join(tree, "core")] + path
            env["PYTHONPATH"] = os.pathsep.join(path)
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", "--framework",
                                     args.framework, "--route", args.route], cwd=APPS, env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("mode %s did not start" % mode)
            children[mode] = proc
        for rnd in range(args.rounds):
            for mode in (modes if rnd % 2 == 0 else modes[::-1]):
                proc = children[mode]
                proc.stdin.write("%d\n" % args.requests)
                proc.stdin.flush()
                row = json.loads(proc.stdout.readline())
                results[mode].append(row)
                print("round %d %-7s thread %6.1f us  process %6.1f us" % (
                    rnd + 1, mode, row["thread_us"], row["process_us"]), file=sys.stderr, flush=True)
    finally:
        for proc in children.values():
            proc.stdin.close()
            proc.wait()
        sink_proc.terminate()
        sink_proc.wait()
    print(report(results, args))
    return 0


def _ratio(rows: List[Dict[str, float]], base: List[Dict[str, float]], key: str) -> str:
    ratios = sorted(a[key] / b[key] for a, b in zip(rows, base))
    return "%.2f (%.2f-%.2f)" % (statistics.median(ratios), ratios[0], ratios[-1])


def report(results: Dict[str, List[Dict[str, float]]], args: argparse.Namespace) -> str:
    lines = ["", "%s %s, %d requests x %d rounds, load average %.1f" % (
        args.framework, args.route, args.requests, args.rounds, os.getloadavg()[0]), "",
        "| mode | request thread, us: min (median) | process, us: min (median) | thread / floor | process / floor |",
        "| --- | ---: | ---: | ---: | ---: |"]
    floor = results.get("floor")
    for mode, rows in results.items():
        t = [r["thread_us"] for r in rows]
        p = [r["process_us"] for r in rows]
        lines.append("| %s | %.0f (%.0f) | %.0f (%.0f) | %s | %s |" % (
            mode, min(t), statistics.median(t), min(p), statistics.median(p),
            _ratio(rows, floor, "thread_us") if floor and mode != "floor" else "",
            _ratio(rows, floor, "process_us") if floor and mode != "floor" else ""))
    if "before" in results:
        lines.append("")
        for mode in [m for m in results if m not in ("before", "floor", "plain")]:
            lines.append("%s / before (paired rounds): thread %s, process %s" % (
                mode, _ratio(results[mode], results["before"], "thread_us"),
                _ratio(results[mode], results["before"], "process_us")))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
