"""Memory of the delivery pipeline under steady load: endpoint up, and endpoint down.

For each mode a child process (the "app") configures ``ai_core`` against an emulator
subprocess (mode ``up``) or a loopback port with nothing listening (mode ``down``: every
connect is refused, so batches go through the in-memory retries to offline storage), with a
fresh ``storage_directory``, and emits a steady load from a few threads for ``--seconds``:

    one "request" = a SERVER span (HTTP attributes) with 3 CLIENT child spans (SQL, an
    outbound HTTP call, a cache call) and one INFO log line inside it = 5 telemetry items

at a fixed total rate (``--rate`` requests/s, default 500 = 2,500 items/s, spread over
``--threads`` threads, default 4). Once a second the child reads its own VmRSS from
/proc/self/status (no tracemalloc: the measurement costs a file read) and prints one JSON
line; the parent collects the series and reports RSS after warm-up, peak, end, the
least-squares slope after warm-up (MB/min), items emitted, delivered (emulator /api/stats) or
stored on disk, and the ``ai_core.diagnostics.DROPS`` totals (every item not delivered or
stored must be counted there). Verdict: "flat" when the slope after warm-up is below
``--max-slope`` MB/min and peak minus the warm-up RSS below ``--max-growth`` MB.

    .venv/bin/python benchmarks/delivery_memory.py [--mode up|down|both] [--seconds 60]
        [--rate 500] [--threads 4] [--warmup 10] [--down-how refused|drop]
        [--tracemalloc]   # investigation only: top allocation growth after warm-up (slow)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from ai_core.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
ITEMS_PER_REQUEST = 5
BLOB_ITEMS = re.compile(r"-n(\d+)\.blob")


# --- the app (child process) ------------------------------------------------------------------

def _rss_kb() -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def child(args: argparse.Namespace) -> int:
    import logging

    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(12)
    import ai_core
    from ai_core.diagnostics import DROPS
    from opentelemetry.trace import SpanKind, Status, StatusCode

    telemetry = ai_core.configure(
        args.connection_string,
        role_name="bench-app",
        role_instance="bench-1",
        storage_directory=args.storage,
        instrumentations=[],
        logging_level=logging.INFO,
        logger_name="bench",
    )
    tracer = telemetry.tracer_provider.get_tracer("bench")
    log = logging.getLogger("bench")
    log.setLevel(logging.INFO)
    log.propagate = False
    channels = list(getattr(telemetry.worker, "_channels", []))

    counts = [0] * args.threads
    stop = threading.Event()
    interval = args.threads / args.rate  # seconds between two requests of one thread

    def one_request(n: int, k: int) -> None:
        order = n * 7919 + k
        with tracer.start_as_current_span("GET /orders/{order_id}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "url.scheme": "https", "server.address": "shop.example.com",
            "url.path": "/orders/%d" % order, "url.query": "expand=items&page=2", "http.route": "/orders/{order_id}",
            "client.address": "203.0.113.%d" % (k % 250 + 1), "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
            "network.protocol.version": "1.1", "enduser.id": "user-%d" % (k % 1000),
        }) as server:
            with tracer.start_as_current_span("SELECT shop", kind=SpanKind.CLIENT, attributes={
                "db.system": "postgresql", "db.name": "shop", "server.address": "db.internal", "server.port": 5432,
                "db.statement": "SELECT o.id, o.total, i.sku FROM orders o JOIN items i ON i.order_id = o.id WHERE o.id = %s",
            }):
                pass
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={
                "http.request.method": "GET", "url.full": "https://inventory.example.com/api/stock/%d" % (order % 5000),
                "server.address": "inventory.example.com", "server.port": 443, "http.response.status_code": 200,
            }):
                pass
            with tracer.start_as_current_span("GET cache", kind=SpanKind.CLIENT, attributes={
                "db.system": "redis", "db.statement": "GET order:%d" % order, "server.address": "cache.internal",
                "server.port": 6379,
            }):
                pass
            log.info("order %d served with %d items", order, k % 9 + 1)
            server.set_attribute("http.response.status_code", 200)
            server.set_status(Status(StatusCode.UNSET))

    def load(n: int) -> None:
        next_at = time.perf_counter() + interval * n / args.threads  # stagger the threads
        k = 0
        while not stop.is_set():
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                next_at = time.perf_counter()  # fell far behind: do not burst to catch up
            one_request(n, k)
            k += 1
            counts[n] = k
            next_at += interval

    def sample(t0: float) -> None:
        print(json.dumps({
            "t": round(time.perf_counter() - t0, 2), "rss_kb": _rss_kb(),
            "emitted": sum(counts) * ITEMS_PER_REQUEST,
            "queued": sum(len(c.items) for c in channels),
            "queues": {c.name: len(c.items) for c in channels},
            "cpu_s": round(time.process_time(), 2),
            "dropped": sum(DROPS.totals().values()),
        }), flush=True)

    snap0 = None
    threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(args.threads)]
    t0 = time.perf_counter()
    sample(t0)
    for t in threads:
        t.start()
    tick = 1
    while tick <= args.seconds:
        time.sleep(max(0.0, t0 + tick - time.perf_counter()))
        sample(t0)
        if args.tracemalloc and tick == args.warmup:
            import tracemalloc

            snap0 = tracemalloc.take_snapshot()
        tick += 1
    stop.set()
    for t in threads:
        t.join()
    emitted = sum(counts) * ITEMS_PER_REQUEST
    load_s = time.perf_counter() - t0
    if snap0 is not None:
        import tracemalloc

        snap1 = tracemalloc.take_snapshot()
        print("tracemalloc, growth from t=%ds to the end, by line:" % args.warmup, file=sys.stderr)
        for stat in snap1.compare_to(snap0, "lineno")[:15]:
            print("  %+8.1f KiB %+7d blocks  %s" % (stat.size_diff / 1024, stat.count_diff, stat.traceback), file=sys.stderr)
    t1 = time.perf_counter()
    flushed = telemetry.force_flush(60.0) if args.mode == "up" else None
    telemetry.shutdown()  # down: whatever is still queued goes to offline storage
    print(json.dumps({
        "final": True, "load_s": round(load_s, 2), "emitted": emitted, "flushed": flushed,
        "flush_and_shutdown_s": round(time.perf_counter() - t1, 2),
        "rss_kb": _rss_kb(), "drops": DROPS.totals(),
        "registry_entries": len(telemetry.request_registry) if telemetry.request_registry is not None else None,
    }), flush=True)
    return 0


# --- the parent -------------------------------------------------------------------------------

def api(port: int, path: str, method: str = "GET", body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def storage_figures(directory: str) -> Dict[str, int]:
    blobs = items = size = 0
    for dirpath, _, files in os.walk(directory):
        for name in files:
            size += os.path.getsize(os.path.join(dirpath, name))
            m = BLOB_ITEMS.search(name)
            if m and not name.endswith(".tmp"):
                blobs += 1
                items += int(m.group(1))
    return {"blobs": blobs, "items": items, "bytes": size}


def slope_mb_per_min(points: List["tuple[float, float]"]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    sxy = sum((t - mx) * (v - my) for t, v in points)
    return (sxy / sxx) * 60.0 if sxx else 0.0


def run_mode(mode: str, args: argparse.Namespace) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ai-delivery-mem-") as tmp:
        storage = os.path.join(tmp, "storage")
        emu: "Optional[EmulatorProcess]" = None
        port = free_port()
        try:
            if mode == "up" or args.down_how == "drop":
                # Imported here: the app (child process) runs this file too; the emulator's
                # modules must not count in its memory.
                from ai_core.emulator.process import EmulatorProcess

                emu = EmulatorProcess(db=os.path.join(tmp, "emulator.db"), cwd=str(ROOT)).start()
                port = emu.port
                if mode == "down":
                    api(port, "/api/faults", "POST", {"drop_connection": True, "count": 10 ** 9})
            conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:%d" % port
            cmd = [sys.executable, os.path.abspath(__file__), "--child", "--mode", mode,
                   "--connection-string", conn, "--storage", storage, "--seconds", str(args.seconds),
                   "--rate", str(args.rate), "--threads", str(args.threads), "--warmup", str(args.warmup)]
            if args.tracemalloc:
                cmd.append("--tracemalloc")
            proc = subprocess.Popen(cmd, cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            series: List[Dict[str, Any]] = []
            final: Dict[str, Any] = {}
            for line in proc.stdout:
                rec = json.loads(line)
                if rec.get("final"):
                    final = rec
                else:
                    series.append(rec)
                    if args.verbose:
                        print("  %s t=%5.1fs rss=%6.1f MB cpu=%.1fs emitted=%d queued=%s dropped=%d" % (
                            mode, rec["t"], rec["rss_kb"] / 1024, rec["cpu_s"], rec["emitted"], rec["queues"],
                            rec["dropped"]),
                            file=sys.stderr, flush=True)
            if proc.wait() != 0 or not final:
                raise RuntimeError("app process failed (exit %s)" % proc.returncode)
            delivered: Optional[Dict[str, Any]] = None
            if mode == "up" and emu is not None:
                stats = api(port, "/api/stats")
                by_type = stats["stored"]["by_type"]
                delivered = {
                    "items": sum(by_type.get(k, 0) for k in ("request", "dependency", "trace")),
                    "metrics": by_type.get("metric", 0),
                    "rejected": stats["received"]["items_rejected"],
                    "batches": stats["received"]["batches_received"],
                }
            disk = storage_figures(storage)
        finally:
            if emu is not None:
                emu.stop()

    rss = [(r["t"], r["rss_kb"] / 1024.0) for r in series]
    after = [(t, v) for t, v in rss if t >= args.warmup]
    at_warmup = min(rss, key=lambda p: abs(p[0] - args.warmup))[1]
    peak = max(v for _, v in rss)
    slope = slope_mb_per_min(after)
    tail = slope_mb_per_min([(t, v) for t, v in rss if t >= rss[-1][0] - 15])
    flat = slope < args.max_slope and peak - at_warmup < args.max_growth
    dropped = sum(final["drops"].values())
    return {
        "mode": mode, "seconds": final["load_s"], "rss_start_mb": rss[0][1], "rss_warmup_mb": at_warmup,
        "rss_peak_mb": peak, "rss_end_mb": rss[-1][1], "slope_mb_min": slope, "tail_slope_mb_min": tail, "flat": flat,
        "emitted": final["emitted"], "delivered": delivered, "disk": disk, "drops": final["drops"],
        "dropped": dropped, "flushed": final["flushed"], "shutdown_s": final["flush_and_shutdown_s"],
        "registry_entries": final["registry_entries"], "max_queued": max(r["queued"] for r in series),
    }


def report(r: Dict[str, Any], args: argparse.Namespace) -> None:
    print("== endpoint %s: %d requests/s target (%d items/s), %d threads, %.0f s ==" % (
        r["mode"], args.rate, args.rate * ITEMS_PER_REQUEST, args.threads, r["seconds"]))
    print("RSS MB: start %.1f, at %gs %.1f, peak %.1f, end %.1f; slope after warm-up %+.2f MB/min, "
          "over the last 15 s %+.2f MB/min" % (
              r["rss_start_mb"], args.warmup, r["rss_warmup_mb"], r["rss_peak_mb"], r["rss_end_mb"],
              r["slope_mb_min"], r["tail_slope_mb_min"]))
    print("items emitted %d (%.0f/s), max queued %d, request-context registry %s entries" % (
        r["emitted"], r["emitted"] / r["seconds"], r["max_queued"], r["registry_entries"]))
    if r["delivered"] is not None:
        d = r["delivered"]
        print("delivered %d (%.1f%% of emitted) in %d batches, + %d metric items, %d rejected; flush %s in %.1f s" % (
            d["items"], 100.0 * d["items"] / max(1, r["emitted"]), d["batches"], d["metrics"], d["rejected"],
            "done" if r["flushed"] else "NOT done", r["shutdown_s"]))
    disk = r["disk"]
    print("offline storage: %d items in %d blobs, %.1f MB" % (disk["items"], disk["blobs"], disk["bytes"] / 2 ** 20))
    print("dropped and counted: %d%s" % (r["dropped"], "".join(
        "\n    %d %s" % (n, why) for why, n in sorted(r["drops"].items()))))
    if r["delivered"] is None:
        accounted = disk["items"] + r["dropped"]
        print("accounted for (on disk + dropped): %d of %d emitted" % (accounted, r["emitted"]))
    print("verdict: %s (slope < %g MB/min and peak - warm-up < %g MB: %+.2f MB/min, %+.1f MB)" % (
        "flat" if r["flat"] else "NOT flat", args.max_slope, args.max_growth, r["slope_mb_min"],
        r["rss_peak_mb"] - r["rss_warmup_mb"]))
    print(flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("up", "down", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=500.0, help="requests/s in total (5 items each)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--down-how", choices=("refused", "drop"), default="refused",
                        help="down = a port with nothing listening, or the emulator dropping every connection")
    parser.add_argument("--max-slope", type=float, default=2.0, help="MB/min")
    parser.add_argument("--max-growth", type=float, default=20.0, help="MB above the warm-up RSS")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print each result as one JSON line")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every sample on stderr")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--connection-string", help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    print("delivery memory: %s, %d cores, %s" % (_cpu_model(), os.cpu_count() or 0, sys.version.split()[0]))
    ok = True
    for mode in (("up", "down") if args.mode == "both" else (args.mode,)):
        result = run_mode(mode, args)
        report(result, args)
        if args.json:
            print(json.dumps(result))
        ok = ok and result["flat"]
    return 0 if ok else 2


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
