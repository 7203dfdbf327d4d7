"""Start-up cost and idle memory: plain, ours and the official distro, side by side.

Each run is a whole fresh process (``python -c``), timed from spawn to exit: interpreter,
framework, telemetry imports, ``configure`` and the app's own import (for FastAPI also the
ASGI lifespan start-up, where our middleware configures). The official distro runs with its
cloud-metadata resource detectors, statsbeat and live metrics off, so it is not timed on
network waits; telemetry goes to a local sink (``sink.py``). Modes are interleaved run by run; min and median of the runs are reported,
with the resident memory (VmRSS) of the configured process once it is idle.

    benchmarks/.venv/bin/python benchmarks/startup.py [--runs 7] [--frameworks flask,fastapi,django]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
APPS = HERE / "web_apps"
MODES = ("plain", "official", "ours")
CS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=%s"

CHILD = r"""
import sys
sys.path.insert(0, %(apps)r)
import hello_%(framework)s as app_module
if %(framework)r == "fastapi":
    import asyncio

    async def start(app):
        # The ASGI lifespan start-up, as uvicorn sends it; our middleware configures here.
        done = asyncio.Event()
        messages = [{"type": "lifespan.startup"}]

        async def receive():
            if messages:
                return messages.pop(0)
            await asyncio.Event().wait()

        async def send(message):
            if message["type"].startswith("lifespan.startup"):
                done.set()

        task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send))
        await done.wait()
        task.cancel()

    asyncio.run(start(app_module.app))
import gc, json
gc.collect()
with open("/proc/self/status") as f:
    rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS:")][0]
print(json.dumps({"rss_kb": rss, "modules": len(sys.modules)}))
"""


def run_once(framework: str, mode: str, sink: str) -> Tuple[float, Dict[str, int]]:
    # Bytecode caches on, as after a pip install (which compiles every module): an editable
    # install under PYTHONDONTWRITEBYTECODE would compile our sources on every start.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(BENCH_MODE=mode, BENCH_CS=CS % sink)
    code = CHILD % {"apps": str(APPS), "framework": framework}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError("%s/%s failed:\n%s" % (framework, mode, out.stderr[-2000:]))
    return elapsed, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--frameworks", default="flask,fastapi,django")
    args = parser.parse_args()
    frameworks = args.frameworks.split(",")
    times: Dict[Tuple[str, str], List[float]] = {}
    rss: Dict[Tuple[str, str], List[int]] = {}
    modules: Dict[Tuple[str, str], int] = {}
    # A live local endpoint (sink.py): a process that flushes at exit (our FastAPI middleware
    # stops the pipeline at the lifespan's end) is then not timed on retries against a closed port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink_proc = subprocess.Popen([sys.executable, str(HERE / "sink.py"), "--port", str(port)],
                                 stdout=subprocess.PIPE, text=True)
    try:
        sink_proc.stdout.readline()  # "sink listening"
        sink = "http://127.0.0.1:%d" % port
        for framework in frameworks:
            for mode in MODES:
                run_once(framework, mode, sink)  # warm the file cache and write the .pyc files
            for _ in range(args.runs):
                for mode in MODES:
                    elapsed, info = run_once(framework, mode, sink)
                    times.setdefault((framework, mode), []).append(elapsed)
                    rss.setdefault((framework, mode), []).append(info["rss_kb"])
                    modules[(framework, mode)] = info["modules"]
    finally:
        sink_proc.terminate()
        sink_proc.wait()

    print("startup: whole process (spawn to exit), %d interleaved runs per mode" % args.runs)
    print("| framework | mode | min s | median s | telemetry s (median - plain) | idle RSS MB | modules | ours/official (whole process) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for framework in frameworks:
        plain = statistics.median(times[(framework, "plain")])
        official = statistics.median(times[(framework, "official")])
        for mode in MODES:
            t = times[(framework, mode)]
            median = statistics.median(t)
            ratio = "%.2f" % (median / official) if mode == "ours" else ""
            print("| %s | %s | %.3f | %.3f | %s | %.1f | %d | %s |" % (
                framework, mode, min(t), median, "" if mode == "plain" else "%.3f" % (median - plain),
                statistics.median(rss[(framework, mode)]) / 1024, modules[(framework, mode)], ratio))
    print()
    for framework in frameworks:
        plain = statistics.median(times[(framework, "plain")])
        official = statistics.median(times[(framework, "official")])
        share = (statistics.median(times[(framework, "ours")]) - plain) / official
        idle_mb = statistics.median(rss[(framework, "ours")]) / 1024
        print("verdict %s start-up: telemetry share %.2f of the official distro's process (target <= %.2f) -> %s; "
              "idle RSS %.1f MB (target <= %d) -> %s" % (
                  framework, share, TARGET_SHARE, "met" if share <= TARGET_SHARE else "NOT met",
                  idle_mb, TARGET_RSS_MB, "met" if idle_mb <= TARGET_RSS_MB else "NOT met"))
    return 0


# Issue 20: start-up and idle memory no worse than they were (ours' median minus plain's, against
# the official distro's whole process; the idle process's VmRSS).
TARGET_SHARE, TARGET_RSS_MB = 0.25, 53


if __name__ == "__main__":
    sys.exit(main())
