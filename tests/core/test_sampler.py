"""ApplicationInsightsSampler: same keep/drop decisions as the official sampler, plus our rules.

Every ``ApplicationInsightsSampler*`` line of tests/support/golden/sampling.jsonl is checked (decision,
attributes and DJB2 score for each ratio; the ``parent_ignored`` lines with a remote parent,
where we agree, and with a local parent, where we deliberately differ).

We ship no rate-limited sampler: the README (Quick start) says the sampling default is 100 %
fixed-rate and "never a silent rate limit"; the official distro's default of 5 traces/s is
exactly such a silent limit (it exports almost nothing right after start-up). The
``RateLimitedSampler*`` and ``_round_down_to_nearest`` lines are still each checked, at the
end of this module, for what they say about ours: every trace the official default drops is
kept, local parents are followed the same way, and percentages are never rounded down.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from ai_core.errors import ConfigurationError
from ai_core.sampler import SAMPLE_RATE_ATTRIBUTE, ApplicationInsightsSampler, djb2_score
from golden_support import load_cases

CASES = load_cases("sampling")
PER_TRACE = [c for c in CASES if c["kind"] == "ApplicationInsightsSampler"]
PARENT_IGNORED = [c for c in CASES if c["kind"] == "ApplicationInsightsSampler.parent_ignored"]
DECISIONS = [
    (c["trace_id"], ratio, d) for c in PER_TRACE for ratio, d in c["decisions"].items()
]


def test_golden_file_has_the_expected_lines() -> None:
    assert len(PER_TRACE) == 20
    assert len(PARENT_IGNORED) == 2
    assert all(c["kind"].startswith(("ApplicationInsightsSampler", "RateLimitedSampler", "_round")) for c in CASES)


@pytest.mark.parametrize("case", PER_TRACE, ids=lambda c: c["trace_id"])
def test_djb2_score_equals_official(case: Mapping[str, Any]) -> None:
    assert djb2_score(case["trace_id"]) == pytest.approx(case["djb2_score"], abs=0, rel=1e-15)


@pytest.mark.parametrize("trace_id,ratio,expected", DECISIONS, ids=lambda v: str(v)[:12])
def test_decision_and_attributes_equal_official(trace_id: str, ratio: str, expected: Mapping[str, Any]) -> None:
    sampler = ApplicationInsightsSampler(float(ratio))
    result = sampler.should_sample(None, int(trace_id, 16), "span", attributes={"k": "v"})
    assert result.decision.name == expected["decision"]
    assert dict(result.attributes) == expected["attributes"]
    assert isinstance(result.attributes[SAMPLE_RATE_ATTRIBUTE], float)


def _remote_parent(trace_id: str, sampled: int) -> Any:
    ctx = SpanContext(int(trace_id, 16), 0x1234, is_remote=True, trace_flags=TraceFlags(sampled))
    return trace.set_span_in_context(NonRecordingSpan(ctx))


def _local_parent(trace_id: str, sampled: int) -> Any:
    ctx = SpanContext(int(trace_id, 16), 0x1234, is_remote=False, trace_flags=TraceFlags(sampled))
    return trace.set_span_in_context(NonRecordingSpan(ctx))


@pytest.mark.parametrize("case", PARENT_IGNORED, ids=lambda c: c["trace_id"])
def test_remote_parent_is_decided_by_trace_id_like_official(case: Mapping[str, Any]) -> None:
    sampler = ApplicationInsightsSampler(case["ratio"])
    parent = _remote_parent(case["trace_id"], case["parent_sampled_flag"])
    result = sampler.should_sample(parent, int(case["trace_id"], 16), "child")
    assert result.decision.name == case["decision"]
    assert dict(result.attributes) == case["attributes"]
    assert djb2_score(case["trace_id"]) == pytest.approx(case["djb2_score"], rel=1e-15)


@pytest.mark.parametrize("case", PARENT_IGNORED, ids=lambda c: c["trace_id"])
def test_local_parent_decides_unlike_official(case: Mapping[str, Any]) -> None:
    # The deliberate difference: the official sampler ignores the local parent's flag.
    sampler = ApplicationInsightsSampler(case["ratio"])
    parent = _local_parent(case["trace_id"], case["parent_sampled_flag"])
    result = sampler.should_sample(parent, int(case["trace_id"], 16), "child")
    expected = Decision.RECORD_AND_SAMPLE if case["parent_sampled_flag"] else Decision.DROP
    assert result.decision is expected
    assert result.decision.name != case["decision"]


def test_hash_of_int32_min_scores_one() -> None:
    # The reference maps INT32_MIN (whose abs() overflows in int32) to INT32_MAX, score 1.0.
    # No hex id is known to hit it; this string was found by search to hash to exactly INT32_MIN.
    assert djb2_score("f2e6c843fab5479706c41772fc579d2\U000750fb") == 1.0
    assert djb2_score("") == 5381 / (2**31 - 1)


def test_callers_attributes_are_not_mutated() -> None:
    attrs = {"k": "v"}
    result = ApplicationInsightsSampler(0.5).should_sample(None, 1, "span", attributes=attrs)
    assert attrs == {"k": "v"}
    assert result.attributes[SAMPLE_RATE_ATTRIBUTE] == 50.0


def test_no_attributes_still_get_the_sample_rate() -> None:
    result = ApplicationInsightsSampler(1.0).should_sample(None, 1, "span")
    assert dict(result.attributes) == {SAMPLE_RATE_ATTRIBUTE: 100.0}


@pytest.mark.parametrize("ratio,text", [(0.5, "ApplicationInsightsSampler{0.5}"), (1, "ApplicationInsightsSampler{1.0}"), (0.0, "ApplicationInsightsSampler{0.0}")])
def test_description(ratio: float, text: str) -> None:
    assert ApplicationInsightsSampler(ratio).get_description() == text


def test_trace_state_of_parent_is_kept() -> None:
    state = trace.TraceState([("vendor", "x")])
    ctx = SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    result = ApplicationInsightsSampler(1.0).should_sample(trace.set_span_in_context(NonRecordingSpan(ctx)), 1, "s")
    assert result.trace_state == state


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-0.1, 1.01, 50, float("nan"), float("inf"), -float("inf")])
def test_ratio_out_of_range_is_a_configuration_error(bad: float) -> None:
    with pytest.raises(ConfigurationError) as err:
        ApplicationInsightsSampler(bad)
    message = str(err.value)
    assert "sampling_ratio" in message and "0.0 to 1.0" in message
    assert repr(bad) in message


def test_percentage_gets_a_hint() -> None:
    with pytest.raises(ConfigurationError, match="divide it by 100"):
        ApplicationInsightsSampler(25)


@pytest.mark.parametrize("bad", [True, False, "0.5", None, [0.5]])
def test_ratio_of_wrong_type_is_a_configuration_error(bad: Any) -> None:
    with pytest.raises(ConfigurationError) as err:
        ApplicationInsightsSampler(bad)  # type: ignore[arg-type]
    message = str(err.value)
    assert "sampling_ratio" in message
    assert type(bad).__name__ in message and repr(bad) in message


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        ApplicationInsightsSampler(2.0)


# --- the local-parent rule with a real TracerProvider --------------------------------------


class _FixedIds(IdGenerator):
    def __init__(self, trace_ids: List[int]) -> None:
        self._trace_ids = list(trace_ids)
        self._span_id = 0

    def generate_trace_id(self) -> int:
        return self._trace_ids.pop(0)

    def generate_span_id(self) -> int:
        self._span_id += 1
        return self._span_id


# Trace ids from the golden file: one kept and one dropped at ratio 0.5.
KEPT_AT_HALF = next(int(t, 16) for t, r, d in DECISIONS if r == "0.5" and d["decision"] == "RECORD_AND_SAMPLE")
DROPPED_AT_HALF = next(int(t, 16) for t, r, d in DECISIONS if r == "0.5" and d["decision"] == "DROP")


def _provider(sampler: ApplicationInsightsSampler, trace_ids: List[int]) -> "tuple[TracerProvider, InMemorySpanExporter]":
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, id_generator=_FixedIds(trace_ids))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _names(exporter: InMemorySpanExporter) -> List[str]:
    return sorted(s.name for s in exporter.get_finished_spans())


def test_children_of_a_dropped_local_parent_are_dropped() -> None:
    # The official sampler re-decides each child by its own rule, so a child of a dropped
    # parent could be kept on its own when something other than the trace id (here the
    # exclusion hook) dropped the parent.
    provider, exporter = _provider(
        ApplicationInsightsSampler(1.0, exclude=lambda attrs, name: name == "GET /health"), [KEPT_AT_HALF]
    )
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER) as root:
        assert not root.is_recording()
        with tracer.start_as_current_span("SELECT 1", kind=SpanKind.CLIENT) as child:
            assert not child.is_recording()
            with tracer.start_as_current_span("grandchild"):
                pass
    assert _names(exporter) == []


def test_children_of_a_sampled_local_parent_are_kept_with_its_rate() -> None:
    provider, exporter = _provider(ApplicationInsightsSampler(0.5), [KEPT_AT_HALF])
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT):
            pass
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == ["child", "root"]
    assert {(s.attributes or {}).get(SAMPLE_RATE_ATTRIBUTE) for s in spans} == {50.0}


def test_trace_dropped_by_ratio_drops_all_its_spans() -> None:
    provider, exporter = _provider(ApplicationInsightsSampler(0.5), [DROPPED_AT_HALF])
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("child"):
            pass
    assert _names(exporter) == []


def test_child_inherits_the_parents_rate_when_it_differs() -> None:
    # A parent started by another sampler instance (rate 100) keeps its children at rate 100.
    provider, exporter = _provider(ApplicationInsightsSampler(1.0), [KEPT_AT_HALF])
    parent = provider.get_tracer("t").start_span("root")
    result = ApplicationInsightsSampler(0.5).should_sample(trace.set_span_in_context(parent), KEPT_AT_HALF, "child")
    parent.end()
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert result.attributes[SAMPLE_RATE_ATTRIBUTE] == 100.0


def test_explicit_context_with_unsampled_local_parent_drops() -> None:
    provider, exporter = _provider(ApplicationInsightsSampler(1.0, exclude=lambda a, n: n == "root"), [KEPT_AT_HALF])
    tracer = provider.get_tracer("t")
    root = tracer.start_span("root")
    child = tracer.start_span("child", context=trace.set_span_in_context(root))
    assert not child.is_recording()
    child.end()
    root.end()
    assert _names(exporter) == []


# --- the exclusion hook --------------------------------------------------------------------


def test_exclusion_hook_receives_start_attributes_and_name() -> None:
    seen: List[tuple] = []

    def exclude(attrs: Optional[Mapping[str, Any]], name: str) -> bool:
        seen.append((dict(attrs or {}), name))
        return attrs is not None and attrs.get("url.path") == "/health"

    sampler = ApplicationInsightsSampler(1.0, exclude=exclude)
    dropped = sampler.should_sample(None, KEPT_AT_HALF, "GET", SpanKind.SERVER, {"url.path": "/health"})
    kept = sampler.should_sample(None, KEPT_AT_HALF, "GET", SpanKind.SERVER, {"url.path": "/items"})
    assert dropped.decision is Decision.DROP
    assert kept.decision is Decision.RECORD_AND_SAMPLE
    assert seen == [({"url.path": "/health"}, "GET"), ({"url.path": "/items"}, "GET")]


def test_exclusion_applies_to_a_server_span_under_a_remote_parent() -> None:
    sampler = ApplicationInsightsSampler(1.0, exclude=lambda a, n: True)
    parent = _remote_parent(format(KEPT_AT_HALF, "032x"), 1)
    assert sampler.should_sample(parent, KEPT_AT_HALF, "GET", SpanKind.SERVER).decision is Decision.DROP


def test_exclusion_applies_to_a_server_span_under_a_sampled_local_parent() -> None:
    sampler = ApplicationInsightsSampler(1.0, exclude=lambda a, n: True)
    parent = _local_parent(format(KEPT_AT_HALF, "032x"), 1)
    assert sampler.should_sample(parent, KEPT_AT_HALF, "GET", SpanKind.SERVER).decision is Decision.DROP


def test_exclusion_is_not_asked_about_children() -> None:
    calls: List[str] = []

    def exclude(attrs: Any, name: str) -> bool:
        calls.append(name)
        return True

    sampler = ApplicationInsightsSampler(1.0, exclude=exclude)
    parent = _local_parent(format(KEPT_AT_HALF, "032x"), 1)
    result = sampler.should_sample(parent, KEPT_AT_HALF, "SELECT", SpanKind.CLIENT)
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert calls == []


def test_a_raising_exclusion_hook_does_not_break_sampling(caplog: pytest.LogCaptureFixture) -> None:
    def exclude(attrs: Any, name: str) -> bool:
        raise RuntimeError("boom")

    sampler = ApplicationInsightsSampler(1.0, exclude=exclude)
    for _ in range(3):
        assert sampler.should_sample(None, KEPT_AT_HALF, "GET", SpanKind.SERVER).decision is Decision.RECORD_AND_SAMPLE
    assert len([r for r in caplog.records if "exclusion hook" in r.getMessage()]) == 1


def test_exclusion_wins_over_ratio_one() -> None:
    sampler = ApplicationInsightsSampler(1.0, exclude=lambda a, n: True)
    assert sampler.should_sample(None, KEPT_AT_HALF, "GET").decision is Decision.DROP


def test_ratio_zero_drops_everything_and_ratio_one_keeps_every_trace() -> None:
    for trace_id, _, _ in DECISIONS:
        tid = int(trace_id, 16)
        assert ApplicationInsightsSampler(0.0).should_sample(None, tid, "s").decision is Decision.DROP
        assert ApplicationInsightsSampler(1.0).should_sample(None, tid, "s").decision is Decision.RECORD_AND_SAMPLE


def test_sampling_ratio_property_is_a_float() -> None:
    s = ApplicationInsightsSampler(1)
    assert s.sampling_ratio == 1.0 and isinstance(s.sampling_ratio, float)
    assert not math.isnan(s.sampling_ratio)


# -- the official rate-limited sampler's lines: where and why we differ ------------------------
# We ship no rate-limited sampler (see the module docstring), but every reference line still
# says something about ours, and is checked here.

RATE_LIMITED_RUNS = [c for c in CASES if c["kind"] == "RateLimitedSampler.simulation"]


def _decide(sampler: ApplicationInsightsSampler, trace_id_hex: str, parent: Optional[SpanContext] = None):
    ctx = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
    return sampler.should_sample(ctx, int(trace_id_hex, 16), "span", SpanKind.SERVER, {"a": 1})


@pytest.mark.parametrize("run", RATE_LIMITED_RUNS, ids=lambda r: r["description"])
def test_default_sampling_keeps_every_trace_the_official_default_drops(run: Mapping[str, Any]) -> None:
    ours = ApplicationInsightsSampler(1.0)  # our default: 100 %, never a silent rate limit
    official_dropped = [c for c in run["calls"] if c["decision"] == "DROP"]
    assert official_dropped, "the reference run drops traces under load"
    for call in run["calls"]:
        result = _decide(ours, call["trace_id"])
        assert result.decision is Decision.RECORD_AND_SAMPLE
        assert result.attributes[SAMPLE_RATE_ATTRIBUTE] == 100.0


def test_sampled_local_parent_with_a_rate_is_followed_like_official() -> None:
    (case,) = [c for c in CASES if c["kind"] == "RateLimitedSampler.local_parent_with_sample_rate"]
    provider = TracerProvider(sampler=ApplicationInsightsSampler(1.0))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent") as parent:
        assert parent.attributes[SAMPLE_RATE_ATTRIBUTE] == case["parent_sample_rate"]
        result = ApplicationInsightsSampler(0.5).should_sample(None, parent.get_span_context().trace_id, "child", attributes={"a": 1})
    assert result.decision.name == case["decision"]
    assert dict(result.attributes) == case["attributes"]


def test_non_recording_local_parent_drops_like_official() -> None:
    (case,) = [c for c in CASES if c["kind"] == "RateLimitedSampler.local_non_recording_parent"]
    parent = SpanContext(int("ab" * 16, 16), int("cd" * 8, 16), is_remote=False, trace_flags=TraceFlags(0))
    result = _decide(ApplicationInsightsSampler(1.0), "ab" * 16, parent)
    assert result.decision.name == case["decision"]
    # Ours reports the configured rate on the (unexported) dropped span instead of 0.0.
    assert case["attributes"][SAMPLE_RATE_ATTRIBUTE] == 0.0
    assert result.attributes[SAMPLE_RATE_ATTRIBUTE] == 100.0


def test_fixed_rate_reports_the_configured_percentage_without_rounding_down() -> None:
    (case,) = [c for c in CASES if c["kind"] == "_round_down_to_nearest"]
    for percent, official in case["table"].items():
        ours = _decide(ApplicationInsightsSampler(float(percent) / 100), "0" * 31 + "1")
        assert ours.attributes[SAMPLE_RATE_ATTRIBUTE] == pytest.approx(float(percent))
        if float(percent) in (99.0, 33.4, 30.0, 7.0):
            assert official != pytest.approx(float(percent))  # where the official one rounds


def test_outgoing_call_outside_a_request_is_not_dropped_by_an_excluded_url() -> None:
    # excluded_urls=["/health"] excludes incoming /health requests. A background job's call
    # to another service's /health is no request of ours (and would be kept inside one).
    import re

    from ai_core.exclusion import Exclusion

    exclusion = Exclusion([re.compile("/health")])
    provider, exporter = _provider(ApplicationInsightsSampler(1.0, exclude=exclusion.excludes_span_start), [1, 2, 3])
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes={"http.method": "GET", "http.url": "https://inventory/health"}):
        pass
    with tracer.start_as_current_span("send", kind=SpanKind.PRODUCER, attributes={"url.full": "https://queue/health"}):
        pass
    with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER, attributes={"http.method": "GET", "http.target": "/health"}):
        pass
    assert _names(exporter) == ["GET", "send"]
