"""Live Metrics (QuickPulse): the portal's live view of this app, streamed from every process.

README, "Live Metrics". The package, by job:

* ``endpoint``: the live endpoint a connection string implies, and which redirects are followed;
* ``protocol``: one ping or post, its headers and the answer;
* ``schedule``: when to ping and when to post (the state machine);
* ``stream``: one process's stream and its timer thread (fork-safe);
* ``hooks``: the span and log record processors that feed it;
* ``collector``: the per-second metrics (weighted under sampling) and documents;
* ``documents`` / ``filters``: documents from envelopes, and the portal's filters and derived metrics;
* ``process_metrics``: the CPU and memory points (readings from ``ai_core.process_usage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

from ai_core.connection_string import ConnectionString
from ai_core.live_metrics.endpoint import live_target

__all__ = ["LiveDecision", "decide", "build_live_metrics"]


@dataclass(frozen=True)
class LiveDecision:
    """Whether Live Metrics streams, where to (``url``), and why (for ``doctor``)."""

    on: bool
    url: Optional[str]
    reason: str


def decide(option: Optional[bool], cs: Optional[ConnectionString]) -> LiveDecision:
    """The ``live_metrics`` option (None: the default) applied to the connection string."""
    if cs is None:
        return LiveDecision(False, None, "no connection string")
    target = live_target(cs)
    if option is False:
        return LiveDecision(False, target.url, "live_metrics is False")
    if target.url is None:
        if option is True:
            return LiveDecision(False, None, "live_metrics is True, but %s, so there is nowhere to stream to "
                                             "(add LiveEndpoint=... to the connection string)" % target.reason)
        return LiveDecision(False, None, target.reason)
    return LiveDecision(True, target.url, target.reason)


def build_live_metrics(
    option: Optional[bool],
    cs: ConnectionString,
    role_name: str,
    role_instance: str,
    credential: Any = None,
    request_lookup: Any = None,
    sampling_ratio: float = 1.0,
    span_envelopes: Any = None,
    log_envelopes: Any = None,
) -> Tuple[Optional[Any], Optional[Any]]:
    """(span processor, log record processor) feeding this process's Live Metrics stream, or
    (None, None) when it is off. Starts nothing: the thread starts with the first item.

    ``span_envelopes`` / ``log_envelopes``: the exporters' conversions (lists of spans or log
    records -> the envelopes they would send), so Live Metrics counts what is stored.
    """
    decision = decide(option, cs)
    if not decision.on or decision.url is None:
        if option is True:
            import logging

            logging.getLogger("ai_core").warning("Live Metrics is off: %s", decision.reason)
        return None, None
    from ai_core.live_metrics.hooks import LiveLogRecordProcessor, LiveSpanProcessor
    from ai_core.live_metrics.stream import LiveStream

    token_provider = None
    if credential is not None:
        from ai_core.delivery.auth import BearerTokenProvider

        token_provider = BearerTokenProvider(credential, cs.aad_audience)
    stream = LiveStream(
        decision.url, cs.instrumentation_key, role_name, role_instance,
        token_provider=token_provider, request_lookup=request_lookup,
        trace_sample_rate=sampling_ratio * 100 if sampling_ratio < 1 else None,
        span_envelopes=span_envelopes, log_envelopes=log_envelopes,
    )
    return LiveSpanProcessor(stream), LiveLogRecordProcessor(stream)
