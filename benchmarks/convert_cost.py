"""Conversion CPU per exported item in a tight loop: real spans and log records -> envelopes.

The Flask benchmark app (``web_apps/hello_flask.py``) serves ``--requests`` requests of the
chosen route in-process with the whole pipeline on; the spans and log records its exporters
were handed are kept, and then converted again and again exactly as ``export`` converts them
(the exporter's ``envelopes()`` per item: conversion, request-context lookups, telemetry
processors), with and without ``encode_item`` after it, and as ``export`` does it (``export
path``: the exporter's per-item method and the sender's ``encode_envelopes``). Thread CPU time, min and median of
``--rounds`` rounds, per exported envelope. This is the in-place figure of ``export_cost.py``
without the cache misses and time slicing of a real export thread: use it to compare two
versions of the conversion, and ``export_cost.py`` to see what a change is worth in place.

    .venv/bin/python benchmarks/convert_cost.py [--route hello|realistic] [--requests 500] [--rounds 15]
        [--profile] [--export-path-only N]

Instruction counts do not move with the machine's load (CPU time does, by +-15%): run
``valgrind --tool=callgrind`` on ``--export-path-only 1`` and ``--export-path-only 6`` and divide
the difference of the two totals by 5 and by the items printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, List

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", choices=("hello", "realistic"), default="realistic")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--general-only", action="store_true",
                        help="the export path without envelopes.span_bytes and log_bytes (every item by the general path)")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the export path (top functions by own time)")
    parser.add_argument("--export-path-only", type=int, metavar="N",
                        help="only run the export path N times, then exit: for instruction counts, "
                             "e.g. under valgrind --tool=callgrind with N=1 and N=6 (the difference / 5 / items)")
    args = parser.parse_args()

    sys.path.insert(0, HERE)
    from export_cost import _sink_items, _start_sink  # noqa: F401  (the same local sink)

    sink_proc, sink = _start_sink()
    try:
        os.environ["BENCH_MODE"] = "ours"
        os.environ["BENCH_CS"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + sink
        os.environ["APPLICATIONINSIGHTS_LIVE_METRICS"] = "false"
        sys.path.insert(0, os.path.join(HERE, "web_apps"))
        import logging

        logging.getLogger("bench").setLevel(logging.WARNING)
        from ai_core import exporters

        if args.general_only:
            exporters.span_item = lambda *_args: None  # type: ignore[assignment]
            exporters.log_item = lambda *_args: None  # type: ignore[assignment]
        kept: List[Any] = []  # (exporter, item)
        for cls in (exporters.AzureMonitorTraceExporter, exporters.AzureMonitorLogExporter):
            original = cls.export

            def export(self: Any, batch: Any, _original: Any = original) -> Any:
                kept.extend((self, item) for item in batch)
                return _original(self, batch)

            cls.export = export  # type: ignore[method-assign]

        from hello_flask import app  # noqa: E402  (configures ours)
        from ai_core.configure import current
        from ai_core.delivery.encode import encode_item

        client = app.test_client()
        path = "/" if args.route == "hello" else "/realistic"
        for _ in range(args.requests):
            client.get(path)
        telemetry = current()
        assert telemetry is not None
        telemetry.force_flush(timeout_s=60)

        def convert() -> int:
            count = 0
            for exporter, item in kept:
                count += len(exporter.envelopes((item,)))
            return count

        def convert_encode() -> int:
            count = 0
            for exporter, item in kept:
                for env in exporter.envelopes((item,)):
                    encode_item(env)
                    count += 1
            return count

        from ai_core.delivery.sender import encode_envelopes

        def convert_paths() -> List[Any]:
            # What export() does per item: the encoded path without telemetry processors
            # (_span_items/_record_items) where the tree has it, else envelopes + encode.
            paths = []
            for exporter, item in kept:
                each = getattr(exporter, "_span_items", None) or getattr(exporter, "_record_items", None)
                if each is None or not getattr(exporter, "_encodes_converted", False):
                    each = exporter._span_envelopes if hasattr(exporter, "_span_envelopes") else exporter._record_envelopes
                paths.append((each, item))
            return paths

        paths = convert_paths()

        def export_path() -> int:
            count = 0
            for each, item in paths:
                count += len(encode_envelopes(each(item)))
            return count

        if args.export_path_only is not None:
            for _ in range(args.export_path_only):
                export_path()
            print("export path x %d over %d items" % (args.export_path_only, len(paths)))
            return
        items = convert()
        if args.profile:
            import cProfile
            import pstats

            export_path()
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [export_path() for _ in range(3)])
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        for name, work in (("convert", convert), ("convert+encode", convert_encode), ("export path", export_path)):
            work()  # warm
            per_item = []
            for _ in range(args.rounds):
                start = time.thread_time()
                work()
                per_item.append((time.thread_time() - start) * 1e6 / items)
            print("%s %s: %.2f us/item min, %.2f median (%d items, %d rounds)" % (
                args.route, name, min(per_item), statistics.median(per_item), items, args.rounds), flush=True)
    finally:
        sink_proc.terminate()
        sink_proc.wait()


if __name__ == "__main__":
    main()
