"""Envelope encoding throughput: spans -> request-body bytes per second on one core.

Ours (``span_to_envelopes`` + ``encode_json``, and + gzip via ``encode_batch``, which is what
we actually send) against the official ``azure-monitor-opentelemetry-exporter``'s conversion
and serialisation (``_span_to_envelope`` + ``_span_events_to_envelopes`` on a real
``AzureMonitorTraceExporter``, then ``json.dumps(..., cls=SdkJSONEncoder,
exclude_readonly=True)`` exactly as its ``track`` operation builds the body; the official
exporter does not compress). Both run in this one process, interleaved round by round.

Workload: export batches of 512 spans (the BatchSpanProcessor default), built as real SDK
spans from the golden inputs (tests/support/golden/traces.jsonl): per request 1 SERVER span and 3
dependencies, cycling through every SERVER case and every CLIENT / INTERNAL case (HTTP, SQL,
Redis, gRPC, messaging-less in-process spans, spans with exception events, ...), without the
giant cases (inputs over 8 KB: the truncation cases, a GenAI span and a 70 KB log-event span),
which no real route produces on every request.

    benchmarks/.venv/bin/python benchmarks/encode.py [--rounds 9] [--min-time 0.4]

Needs the benchmark virtualenv (``benchmarks/run`` creates it): our package plus the
official exporter. The target (the project's performance targets, benchmarks/README.md) is ours >= 10x the official spans/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

# The official exporter must not start statsbeat / sdkstats / control-plane work or touch the
# network while we time it.
for _name in (
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED",
):
    os.environ[_name] = "true"

from golden_spans import _links  # noqa: E402
from golden_support import IKEY, load_cases, make_resource, make_scope, typed_attributes  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.context import Context  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.id_generator import IdGenerator  # noqa: E402
from opentelemetry.sdk.trace.sampling import ALWAYS_ON  # noqa: E402
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags  # noqa: E402
from opentelemetry.trace.status import Status, StatusCode  # noqa: E402

from ai_core.delivery.encode import encode_batch, encode_json  # noqa: E402
from ai_core.envelopes.spans import span_to_envelopes  # noqa: E402

CONNECTION_STRING = "InstrumentationKey=%s;IngestionEndpoint=http://127.0.0.1:9" % IKEY
BATCH = 512
DEPENDENCIES_PER_REQUEST = 3
GIANT_INPUT_BYTES = 8 * 1024


class _NextIds(IdGenerator):
    """Hands out the ids the workload chose for the next span."""

    trace_id = span_id = 0

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        return self.span_id


def _start(provider: TracerProvider, ids: _NextIds, spec: Dict[str, Any], parent: Context,
           trace_id: int, span_id: int, start_ns: int) -> Any:
    """The golden case's span (attributes, kind, scope, links, events, status), ended, with
    the given ids and its recorded duration and event offsets moved to ``start_ns``."""
    ids.trace_id, ids.span_id = trace_id, span_id
    scope = make_scope(spec.get("instrumentation_scope"))
    tracer = provider.get_tracer(scope.name, scope.version, scope.schema_url) if scope else provider.get_tracer("")
    shift = start_ns - spec["start_time_unix_nano"]
    span = tracer.start_span(
        spec["name"], context=parent, kind=SpanKind[spec["kind"]],
        attributes=typed_attributes(spec.get("attributes"), spec.get("attribute_types")),
        links=_links(spec), start_time=start_ns,
    )
    for event in spec.get("events") or ():
        span.add_event(event["name"], typed_attributes(event.get("attributes"), event.get("attribute_types")),
                       timestamp=event["time_unix_nano"] + shift)
    status = spec.get("status")
    if status and status.get("code") and status["code"] != "UNSET":
        span.set_status(Status(StatusCode[status["code"]], status.get("description")))
    span.end(end_time=spec["end_time_unix_nano"] + shift)
    return span


def workload() -> Tuple[List[Any], int, int]:
    """One export batch of distinct SDK spans, and how many server / dependency cases fed it.

    Like one real process: a single TracerProvider and resource (the first server case's),
    a fresh trace id per request whose server span has a remote parent, dependencies that are
    children of their request, and timestamps that move on from request to request.
    """
    servers, deps = [], []
    for case in load_cases("traces"):
        spec = case["input"]
        if case["case"].startswith("truncation_") or len(json.dumps(spec)) > GIANT_INPUT_BYTES:
            continue
        if spec.get("kind") == "SERVER":
            servers.append(spec)
        elif spec.get("kind") in ("CLIENT", "INTERNAL"):
            deps.append(spec)
    ids = _NextIds()
    provider = TracerProvider(sampler=ALWAYS_ON, resource=make_resource(servers[0].get("resource")),
                              id_generator=ids, shutdown_on_exit=False)
    rnd = random.Random(20261125)
    spans: List[Any] = []
    t = servers[0]["start_time_unix_nano"]
    s = d = 0
    while len(spans) < BATCH:
        trace_id = rnd.getrandbits(128)
        upstream = SpanContext(trace_id, rnd.getrandbits(64), is_remote=True, trace_flags=TraceFlags(1))
        server = _start(provider, ids, servers[s % len(servers)],
                        trace.set_span_in_context(NonRecordingSpan(upstream), Context()),
                        trace_id, rnd.getrandbits(64), t)
        spans.append(server)
        s += 1
        inside = trace.set_span_in_context(server, Context())
        for k in range(DEPENDENCIES_PER_REQUEST):
            spans.append(_start(provider, ids, deps[d % len(deps)], inside, trace_id,
                                rnd.getrandbits(64), t + (k + 1) * 1_000_000))
            d += 1
        t += 7_654_321
    return spans[:BATCH], len(servers), len(deps)


def official_encoder() -> Callable[[List[Any]], bytes]:
    from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
    from azure.monitor.opentelemetry.exporter._generated.exporter._utils.model_base import SdkJSONEncoder

    exporter = AzureMonitorTraceExporter(connection_string=CONNECTION_STRING, disable_offline_storage=True)

    def encode(spans: List[Any]) -> bytes:
        envelopes = []
        for span in spans:  # as AzureMonitorTraceExporter.export does
            envelopes.append(exporter._span_to_envelope(span))
            envelopes.extend(exporter._span_events_to_envelopes(span))
        # as the generated client's track() builds its request body (azure-core then sends
        # the str encoded as UTF-8)
        return json.dumps(envelopes, cls=SdkJSONEncoder, exclude_readonly=True).encode("utf-8")

    return encode


def ours_encoder(gzip: bool) -> Callable[[List[Any]], bytes]:
    finish = encode_batch if gzip else encode_json

    def encode(spans: List[Any]) -> bytes:
        envelopes: List[Dict[str, Any]] = []
        for span in spans:  # as ai_core.exporters.AzureMonitorTraceExporter.export does
            envelopes.extend(span_to_envelopes(span, IKEY, None))
        return finish(envelopes)

    return encode


def time_round(encode: Callable[[List[Any]], bytes], spans: List[Any], min_time: float) -> float:
    """Seconds per batch, averaged over as many batches as fit in ``min_time``."""
    gc.collect()
    n = 0
    start = time.perf_counter()
    while True:
        encode(spans)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--min-time", type=float, default=0.4, help="seconds per round and side")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})

    spans, n_servers, n_deps = workload()
    sides = {
        "official": official_encoder(),
        "ours": ours_encoder(gzip=False),
        "ours+gzip": ours_encoder(gzip=True),
    }
    sizes = {name: len(encode(spans)) for name, encode in sides.items()}
    envelope_count = len(json.loads(sides["ours"](spans)))
    official_count = len(json.loads(sides["official"](spans)))

    for encode in sides.values():  # warm-up
        time_round(encode, spans, args.min_time / 2)
    per_batch: Dict[str, List[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):  # interleaved, so drift hits every side alike
        for name, encode in sides.items():
            per_batch[name].append(time_round(encode, spans, args.min_time))

    from importlib.metadata import version

    print(
        "encode: %d spans per batch (%d requests x (1 server + %d dependencies); %d server and %d "
        "dependency golden cases), %d envelopes ours / %d official"
        % (len(spans), len(spans) // (1 + DEPENDENCIES_PER_REQUEST), DEPENDENCIES_PER_REQUEST,
           n_servers, n_deps, envelope_count, official_count)
    )
    print(
        "python %s, opentelemetry-sdk %s, azure-monitor-opentelemetry-exporter %s; one core (cpu 0), "
        "median of %d rounds" % (platform.python_version(), version("opentelemetry-sdk"),
                                 version("azure-monitor-opentelemetry-exporter"), args.rounds)
    )
    rate: Dict[str, float] = {}
    print("%-10s %12s %10s %12s %11s %9s" % ("side", "spans/s", "MB/s", "bytes/span", "ms/batch", "spread")
          + "   (MB and bytes: the request body as sent; spread: (max-min)/median of the rounds)")
    for name, times in per_batch.items():
        median = statistics.median(times)
        rate[name] = len(spans) / median
        spread = (max(times) - min(times)) / median
        print(
            "%-10s %12.0f %10.2f %12.0f %11.2f %8.0f%%"
            % (name, rate[name], sizes[name] / median / 1e6, sizes[name] / len(spans), median * 1e3,
               spread * 100)
        )
    def ratio(name: str) -> str:
        # ratio of the medians, and the range of the ratios of adjacent (same-round) runs
        rounds = sorted(o / t for o, t in zip(per_batch["official"], per_batch[name]))
        return "%.1fx (rounds %.1f-%.1fx)" % (rate[name] / rate["official"], rounds[0], rounds[-1])

    print("ratio ours / official:      %s, JSON body" % ratio("ours"))
    print("ratio ours+gzip / official: %s, what each actually sends; target >= 10x"
          % ratio("ours+gzip"))

if __name__ == "__main__":
    main()
