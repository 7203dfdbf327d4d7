"""What Live Metrics costs the request thread, per request span, and its own thread per item.

Three tracer providers with the same sampler and a do-nothing exporter processor, differing
only in Live Metrics: ``off`` (no Live Metrics processor), ``unsubscribed`` (the processor of a
started stream nobody watches: one flag read) and ``subscribed`` (someone watches: the span is
appended to the stream's bounded buffer). Each round ends ``--spans`` server spans with HTTP
attributes on each provider, in an order that alternates between rounds, and measures the
request thread's CPU time (``time.thread_time``), so the load of a shared machine does not
inflate the figures (they still vary by a few microseconds between rounds on a busy machine, so
the unsubscribed processor is also timed alone). ``subscribed`` also reports the Live Metrics thread's CPU per item: the
conversion to envelopes, counting and filtering that happen once a second off the request path.

    .venv/bin/python benchmarks/live_metrics_cost.py [--spans 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Dict, List

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import SpanKind

from ai_core.live_metrics.filters import LiveConfiguration
from ai_core.live_metrics.hooks import LiveSpanProcessor
from ai_core.live_metrics.stream import LiveStream
from ai_core.sampler import ApplicationInsightsSampler

ATTRS = {"http.request.method": "GET", "http.route": "/items/{id}", "url.path": "/items/1", "url.scheme": "http",
         "server.address": "shop.example", "http.response.status_code": 200}


class DoNothing(SpanProcessor):
    def on_end(self, span) -> None:  # type: ignore[override]
        pass


def provider(stream: "LiveStream | None") -> TracerProvider:
    tp = TracerProvider(sampler=ApplicationInsightsSampler(1.0))
    tp.add_span_processor(DoNothing())
    if stream is not None:
        tp.add_span_processor(LiveSpanProcessor(stream))
    return tp


def spans_cpu_ns(tp: TracerProvider, n: int) -> float:
    tracer = tp.get_tracer("bench")
    start = time.thread_time_ns()
    for _ in range(n):
        tracer.start_span("GET /items/{id}", kind=SpanKind.SERVER, attributes=ATTRS).end()
    return (time.thread_time_ns() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    ikey = "00000000-0000-0000-0000-000000000000"
    idle = LiveStream("http://127.0.0.1:9", ikey, "bench", "bench")
    idle.idle = False  # a started stream (its thread is not needed to measure the hook)
    watched = LiveStream("http://127.0.0.1:9", ikey, "bench", "bench")
    watched.idle, watched.collecting = False, True
    watched.collector._max = 10 ** 9  # measure the append, not the drop
    providers = {"off": provider(None), "unsubscribed": provider(idle), "subscribed": provider(watched)}
    results: Dict[str, List[float]] = {name: [] for name in providers}
    live_thread: List[float] = []
    order = list(providers)
    for round_no in range(args.rounds):
        for name in (order if round_no % 2 == 0 else order[::-1]):
            results[name].append(spans_cpu_ns(providers[name], args.spans))
        items = len(watched.collector._items)
        start = time.thread_time_ns()
        watched.collector.collect(LiveConfiguration())
        live_thread.append((time.thread_time_ns() - start) / max(items, 1))
    off = statistics.median(results["off"])
    print("request-thread CPU per server span (median of %d rounds of %d spans):" % (args.rounds, args.spans))
    for name, values in results.items():
        median = statistics.median(values)
        print("  %-13s %7.0f ns  (min %7.0f)  %+6.0f ns vs off" % (name, median, min(values), median - off))
    print("Live Metrics thread CPU per item while subscribed: %.1f us" % (statistics.median(live_thread) / 1000))

    # The hook alone, without the SDK around it: what the unsubscribed processor adds per span.
    hook = LiveSpanProcessor(idle)
    span = providers["off"].get_tracer("bench").start_span("GET /items/{id}", kind=SpanKind.SERVER, attributes=ATTRS)
    span.end()
    per_call = []
    for _ in range(args.rounds):
        start = time.thread_time_ns()
        for _ in range(args.spans):
            hook.on_start(span)
            hook.on_end(span)
        per_call.append((time.thread_time_ns() - start) / args.spans)
    print("unsubscribed processor alone (on_start + on_end): %.0f ns per span" % statistics.median(per_call))


if __name__ == "__main__":
    main()
