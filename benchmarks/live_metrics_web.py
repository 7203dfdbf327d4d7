"""Hello-world throughput with Live Metrics off, on but unwatched, and watched (Flask, gunicorn).

The Flask hello-world app of ``web.py`` (``web_apps/hello_flask.py``, mode ``ours``, gunicorn
with 1 sync worker) serves ``/`` under ``wrk -t1 -c8`` with three connection strings that
differ only in Live Metrics: ``off`` (a loopback ``IngestionEndpoint`` only: no Live Metrics),
``unsubscribed`` (plus a ``LiveEndpoint`` that answers "not subscribed": the app pings every
5 s) and ``subscribed`` (the endpoint answers "subscribed": the app posts every second, with
every request counted and converted). Ingestion goes to ``sink.py``; the live endpoint is a
small stand-in here that counts pings and posts. Modes are interleaved round by round in an
order reversed every other round; each ratio to ``off`` is the median of the per-round ratios,
with their range (a shared machine's speed drifts within minutes).

    .venv/bin/python benchmarks/live_metrics_web.py [--duration 10] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from web import APPS, free_port, server_command, wait_listening, wrk  # noqa: E402

MODES = ("off", "unsubscribed", "subscribed")
IKEY = "00000000-0000-0000-0000-000000000000"


class LiveStandIn:
    """Answers QuickPulse pings and posts; ``subscribed`` is switched per mode."""

    def __init__(self) -> None:
        self.subscribed = False
        self.calls = {"ping": 0, "post": 0}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
                stand_in.calls[operation] = stand_in.calls.get(operation, 0) + 1
                self.send_response(200)
                self.send_header("x-ms-qps-subscribed", "true" if stand_in.subscribed else "false")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def run_one(mode: str, duration: float, sink: str, live: LiveStandIn) -> Dict[str, float]:
    cs = "InstrumentationKey=%s;IngestionEndpoint=%s" % (IKEY, sink)
    if mode != "off":
        cs += ";LiveEndpoint=" + live.url
    live.subscribed = mode == "subscribed"
    port = free_port()
    env = dict(os.environ, BENCH_MODE="ours", BENCH_CS=cs, PYTHONPATH=str(APPS), OTEL_METRIC_EXPORT_INTERVAL="600000")
    for key in [k for k in env if k.startswith("APPLICATIONINSIGHTS_") or k.startswith("OTEL_S")]:
        env.pop(key)
    proc = subprocess.Popen(server_command("flask", port), cwd=APPS, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_listening(port, proc)
        wrk(port, "/", 1)  # warm-up (and the first item starts the Live Metrics thread)
        posts = live.calls["post"]
        rps = wrk(port, "/", duration)[0]
        posted = live.calls["post"] - posts
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    if mode == "subscribed" and posted < duration / 2:
        raise RuntimeError("subscribed, but only %d posts in %gs" % (posted, duration))
    return {"rps": rps, "posts": posted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    sink_port = free_port()
    sink_proc = subprocess.Popen([sys.executable, str(HERE / "sink.py"), "--port", str(sink_port)],
                                 stdout=subprocess.PIPE, text=True)
    sink_proc.stdout.readline()
    sink = "http://127.0.0.1:%d" % sink_port
    live = LiveStandIn()
    results: Dict[str, List[Dict[str, float]]] = {m: [] for m in MODES}
    try:
        for round_no in range(args.rounds):
            for mode in (MODES if round_no % 2 == 0 else MODES[::-1]):
                results[mode].append(run_one(mode, args.duration, sink, live))
                print("round %d %-12s %7.0f req/s" % (round_no + 1, mode, results[mode][-1]["rps"]), flush=True)
    finally:
        sink_proc.terminate()
        sink_proc.wait()
    print("\n| Live Metrics | req/s (median) | vs off (median of per-round ratios, range) |")
    print("| --- | ---: | ---: |")
    for mode in MODES:
        rps = [r["rps"] for r in results[mode]]
        ratios = [r["rps"] / o["rps"] for r, o in zip(results[mode], results["off"])]
        ratio = "" if mode == "off" else "%.2f (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))
        print("| %s | %.0f | %s |" % (mode, statistics.median(rps), ratio))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
