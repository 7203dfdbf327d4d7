"""Ingestion throughput of the local emulator, in envelopes per second.

Starts ``python -m ai_core.emulator`` as a subprocess on a free port with a file database in
a temporary directory, then has several client threads POST gzip batches of realistic
envelopes (the span envelopes of tests/support/golden/traces.jsonl, with fresh ids per batch) over
keep-alive connections for a fixed time, and prints envelopes/s. The target is >= 5,000/s.

    .venv/bin/python benchmarks/ingest.py [--seconds 10] [--threads 4] [--batch 500]

Bodies are built and compressed before the clock starts so the figure measures the server.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

from ai_core.emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
TRACES = ROOT / "tests" / "support" / "golden" / "traces.jsonl"


def load_envelopes() -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    with open(TRACES, encoding="utf-8") as f:
        for line in f:
            case = json.loads(line)
            if case.get("envelope"):
                out.append(case["envelope"])
            out.extend(case.get("extra_envelopes") or [])
    return out


def make_bodies(envelopes: List[Dict[str, Any]], batch: int, variants: int) -> List[bytes]:
    """``variants`` gzip JSON-array bodies of ``batch`` envelopes with distinct operation ids."""
    bodies = []
    n = 0
    for v in range(variants):
        items = []
        for i in range(batch):
            env = copy.deepcopy(envelopes[(v * batch + i) % len(envelopes)])
            n += 1
            env["tags"]["ai.operation.id"] = "%032x" % (n // 5)
            base = env["data"]["baseData"]
            if "id" in base:
                base["id"] = "%016x" % n
            items.append(env)
        bodies.append(gzip.compress(json.dumps(items).encode("utf-8")))
    return bodies


def client(port: int, bodies: List[bytes], batch: int, deadline: float,
           counts: List[int], errors: List[str], index: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    k = index
    while time.perf_counter() < deadline:
        conn.request("POST", "/v2.1/track", bodies[k % len(bodies)], headers)
        resp = conn.getresponse()
        reply = json.loads(resp.read())
        if resp.status != 200 or reply["itemsAccepted"] != batch:
            errors.append("%d %s" % (resp.status, str(reply)[:200]))
            return
        counts[index] += batch
        k += 1
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    bodies = make_bodies(load_envelopes(), args.batch, variants=8)
    with tempfile.TemporaryDirectory() as tmp, \
            EmulatorProcess(db=str(Path(tmp) / "bench.db"), cwd=str(ROOT)) as emulator:
        port = emulator.port
        # Warm-up batch: table creation and first-page allocation are not ingestion.
        client(port, bodies[:1], args.batch, time.perf_counter() + 0.01, [0], [], 0)
        counts = [0] * args.threads
        errors: List[str] = []
        started = time.perf_counter()
        deadline = started + args.seconds
        threads = [threading.Thread(target=client, args=(port, bodies, args.batch,
                                                         deadline, counts, errors, i))
                   for i in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    if errors:
        print("errors: %s" % errors[:3], file=sys.stderr)
        return 1
    total = sum(counts)
    rate = total / elapsed
    print("emulator ingestion: %d envelopes in %.2f s with %d client threads, batches of %d "
          "(gzip JSON arrays, file db, WAL)" % (total, elapsed, args.threads, args.batch))
    print("%.0f envelopes/s" % rate)
    return 0 if rate >= 5000 else 2


if __name__ == "__main__":
    sys.exit(main())
