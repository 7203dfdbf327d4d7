"""The three OpenTelemetry exporters: SDK data -> envelopes -> telemetry processors -> delivery.

They take the official exporters' constructor keywords (``connection_string``,
``storage_directory``, ``disable_offline_storage``, ``credential``) so switching is a one-line
import change. ``configure()`` builds them with a few extra keywords of ours (request
context, the process's role, telemetry processors); used standalone they behave like the official
ones, with our envelope fixes.
"""

from __future__ import annotations

import logging
import os
import time
from itertools import chain
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ai_core.connection_string import ConnectionString
from ai_core.delivery.auth import BearerTokenProvider
from ai_core.delivery.pacing import paced
from ai_core.delivery.sender import MAX_ITEM_BYTES, LazyStorage, Sender, converted_item
from ai_core.delivery.storage import resource_storage_directory
from ai_core.delivery.transport import Transport
from ai_core.diagnostics import DROPS
from ai_core.envelopes.log_bytes import log_item
from ai_core.envelopes.logs import log_to_envelope
from ai_core.envelopes.metrics import APPLICATION_INSIGHTS_TEMPORALITY, metrics_to_envelopes
from ai_core.envelopes.span_bytes import span_item
from ai_core.envelopes.spans import otel_resource_envelope, span_to_envelopes
from ai_core.errors import ConfigurationError
from ai_core.request_context import RequestLookup
from ai_core.role import Role

logger = logging.getLogger(__name__)

Envelope = Dict[str, Any]

ENV_METRIC_NAMESPACE_OPT_IN = "APPLICATIONINSIGHTS_METRIC_NAMESPACE_OPT_IN"
TelemetryProcessor = Callable[[Envelope], Optional[Envelope]]

# Keywords of the official exporters / azure-core that have no meaning here; accepted so that
# code written for the official package keeps working, ignored on purpose.
_IGNORED_OFFICIAL_KWARGS = frozenset(
    {
        "api_version", "storage_max_size", "storage_maintenance_period", "storage_min_retry_interval",
        "storage_retention_period", "max_envelopes_per_second", "read_timeout", "connection_verify",
        "proxies", "retry_total", "retry_connect", "retry_read", "retry_status", "retry_backoff_factor",
        "retry_backoff_max", "headers", "tracer_provider", "is_sdkstats", "enable_live_metrics",
    }
)


class _ExporterBase:
    """What all three exporters share: connection string, post-processing and sending."""

    def __init__(
        self,
        connection_string: "str | ConnectionString | None" = None,
        storage_directory: Optional[str] = None,
        disable_offline_storage: bool = False,
        credential: Any = None,
        *,
        timeout: float = 10.0,
        request_lookup: Optional[RequestLookup] = None,
        role: Optional[Role] = None,
        telemetry_processors: Sequence[TelemetryProcessor] = (),
        sender: Optional[Sender] = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - _IGNORED_OFFICIAL_KWARGS)
        if unknown:
            raise ConfigurationError(
                "%s got unknown keyword argument(s): %s" % (type(self).__name__, ", ".join(unknown))
            )
        if isinstance(connection_string, ConnectionString):
            parsed: Optional[ConnectionString] = connection_string
        else:
            parsed = ConnectionString.resolve(connection_string)
        if parsed is None:
            raise ConfigurationError(
                "%s needs a connection string: pass connection_string=... or set "
                "APPLICATIONINSIGHTS_CONNECTION_STRING" % type(self).__name__
            )
        self.connection_string = parsed
        self.ikey = parsed.instrumentation_key
        self.storage_directory = storage_directory
        self.disable_offline_storage = disable_offline_storage
        self.credential = credential
        self._request_lookup = request_lookup
        self.role = role  # the process's role (ai_core.role); None: each item's resource says
        self._processors = tuple(telemetry_processors)
        self._sender = sender or build_sender(parsed, storage_directory, disable_offline_storage, timeout, credential)
        self._shut_down = False
        # Without telemetry processors, span and log envelopes go to our Sender as their bytes,
        # encoded by what their conversion guarantees (ai_core.delivery.sender.converted_item):
        # the same bytes, cheaper. Any other sender gets the dicts.
        self._encodes_converted = not self._processors and isinstance(self._sender, Sender)

    def _finish(self, envelopes: Iterable[Envelope]) -> List[Envelope]:
        """The user's telemetry processors (each guarded)."""
        processors = self._processors
        if not processors:
            return envelopes if isinstance(envelopes, list) else list(envelopes)
        out: List[Envelope] = []
        for env in envelopes:
            for proc in processors:
                try:
                    env = proc(env)
                except Exception:  # a user's processor must not lose the whole batch
                    DROPS.add("telemetry processor %r raised" % getattr(proc, "__name__", proc))
                    env = None
                if env is None:
                    break
                if not isinstance(env, dict):  # e.g. True: not an item, and it would break the next step
                    DROPS.add(
                        "telemetry processor %r returned %s instead of the envelope or None"
                        % (getattr(proc, "__name__", proc), type(env).__name__)
                    )
                    env = None
                    break
            if env is not None:
                out.append(env)
        return out

    def _send(self, envelopes: Iterable[Envelope]) -> bool:
        """Hands the final envelopes to the sender, which encodes each as it comes: with a
        generator no envelope's dict tree outlives its own conversion, so none lives long
        enough to be promoted by the garbage collector (benchmarks/README.md)."""
        if self._shut_down:
            DROPS.add("exported after shutdown", sum(1 for _ in envelopes))
            return False
        # Our own HTTP call must never be traced by an instrumentation the app enabled.
        token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            return self._sender.send(envelopes)
        finally:
            detach(token)

    def _convert_guarded(self, convert: Callable[[Any], Any], item: Any) -> Any:
        try:
            return convert(item)
        except Exception:
            self._not_converted(item)
            return None

    @staticmethod
    def _not_converted(item: Any) -> None:
        logger.debug("could not convert %r", item, exc_info=True)
        DROPS.add("could not be converted to an envelope")

    def _close(self) -> None:
        self._shut_down = True
        self._sender.close()


def build_sender(
    connection_string: ConnectionString,
    storage_directory: Optional[str] = None,
    disable_offline_storage: bool = False,
    timeout: float = 10.0,
    credential: Any = None,
) -> Sender:
    """Transport (with an Entra ID token when a credential is given) + lazily opened storage.

    A credential without ``get_token`` fails here, at start-up, not at the first export.
    """
    token_provider = None
    if credential is not None:
        try:
            token_provider = BearerTokenProvider(credential, connection_string.aad_audience)
        except ValueError as exc:
            raise ConfigurationError("credential: %s" % exc) from None
    storage = None
    if not disable_offline_storage:
        storage = LazyStorage(storage_directory or resource_storage_directory(
            connection_string.instrumentation_key, connection_string.ingestion_endpoint))
    transport = Transport(connection_string.track_url, connect_timeout=timeout, token_provider=token_provider)
    return Sender(transport, storage)


class AzureMonitorTraceExporter(_ExporterBase, SpanExporter):
    """Spans -> Request / RemoteDependency (+ Exception / Message for span events)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        resource = otel_resource_envelope(
            spans[0].resource, self.ikey, time.time_ns(), self.connection_string.application_id, self.role
        )
        # Span by span: each envelope is encoded before the next span is converted.
        convert = self._span_items if self._encodes_converted else self._span_envelopes
        each = chain.from_iterable(map(convert, paced(spans)))
        ok = self._send(chain(self._finish([resource]), each))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def envelopes(self, spans: Iterable[ReadableSpan]) -> List[Envelope]:
        """What :meth:`export` sends for ``spans`` (telemetry processors applied), unsent:
        ``ai_core.testing`` captures these."""
        envelopes: List[Envelope] = []
        for span in spans:
            envelopes.extend(self._span_envelopes(span))
        return envelopes

    def _span_envelopes(self, span: ReadableSpan) -> List[Envelope]:
        """One span's envelopes, telemetry processors applied (none if it cannot be converted).
        A method of its own, not a closure per span: this runs once per exported span."""
        try:
            converted = span_to_envelopes(span, self.ikey, self._request_lookup, self.role)
        except Exception:
            self._not_converted(span)
            return []
        return self._finish(converted) if self._processors else converted

    def _span_items(self, span: ReadableSpan) -> List[Any]:
        """:meth:`_span_envelopes` encoded here (no telemetry processors: ``_encodes_converted``);
        the common shapes written straight to their bytes (``envelopes.span_bytes``)."""
        item = span_item(span, self.ikey, self._request_lookup, self.role)
        if item is not None and len(item) <= MAX_ITEM_BYTES:
            return [item]
        try:
            converted = span_to_envelopes(span, self.ikey, self._request_lookup, self.role)
        except Exception:
            self._not_converted(span)
            return []
        return [converted_item(envelope) for envelope in converted]

    def shutdown(self) -> None:
        self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class AzureMonitorLogExporter(_ExporterBase, LogRecordExporter):
    """Log records -> Message / Exception / Event envelopes.

    ``trace_sampling_ratio``: the ratio of the sampler the app's spans go through, given by
    ``configure()``; below 1, a record written inside a kept trace carries that trace's
    ``sampleRate`` so counts of log lines scale up like counts of requests.
    """

    def __init__(
        self, connection_string: "str | ConnectionString | None" = None, *args: Any,
        trace_sampling_ratio: Optional[float] = None, **kwargs: Any,
    ) -> None:
        super().__init__(connection_string, *args, **kwargs)
        ratio = trace_sampling_ratio
        self._trace_sample_rate = ratio * 100 if ratio is not None and ratio < 1 else None

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if not batch:
            return LogRecordExportResult.SUCCESS
        # Record by record: the sender encodes each envelope before the next record is converted.
        convert = self._record_items if self._encodes_converted else self._record_envelopes
        ok = self._send(chain.from_iterable(map(convert, paced(batch))))
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def envelopes(self, batch: Iterable[ReadableLogRecord]) -> List[Envelope]:
        """What :meth:`export` sends for ``batch`` (telemetry processors applied), unsent:
        ``ai_core.testing`` captures these."""
        envelopes: List[Envelope] = []
        for record in batch:
            envelopes.extend(self._record_envelopes(record))
        return envelopes

    def _record_envelopes(self, record: ReadableLogRecord) -> List[Envelope]:
        """One record's envelope (a list of at most one), telemetry processors applied."""
        try:
            envelope = log_to_envelope(record, self.ikey, self._request_lookup, self._trace_sample_rate, self.role)
        except Exception:
            self._not_converted(record)
            return []
        if envelope is None:
            return []
        return self._finish((envelope,)) if self._processors else [envelope]

    def _record_items(self, record: ReadableLogRecord) -> List[Any]:
        """:meth:`_record_envelopes` encoded here (no telemetry processors: ``_encodes_converted``);
        the common Message written straight to its bytes (``envelopes.log_bytes``)."""
        item = log_item(record, self.ikey, self._request_lookup, self._trace_sample_rate, self.role)
        if item is not None and len(item) <= MAX_ITEM_BYTES:
            return [item]
        try:
            envelope = log_to_envelope(record, self.ikey, self._request_lookup, self._trace_sample_rate, self.role)
        except Exception:
            self._not_converted(record)
            return []
        return [] if envelope is None else [converted_item(envelope)]

    def shutdown(self) -> None:
        self._close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class AzureMonitorMetricExporter(_ExporterBase, MetricExporter):
    """Metric points -> MetricData envelopes, with Application Insights' temporalities."""

    def __init__(self, connection_string: "str | ConnectionString | None" = None, **kwargs: Any) -> None:
        _ExporterBase.__init__(self, connection_string, **kwargs)
        MetricExporter.__init__(self, preferred_temporality=dict(APPLICATION_INSIGHTS_TEMPORALITY))
        # The official exporter's switch for the metric namespace (``ns`` = the meter's name).
        self._namespace_opt_in = os.environ.get(ENV_METRIC_NAMESPACE_OPT_IN, "").strip().lower() == "true"

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        envelopes = self.envelopes(metrics_data)
        if not envelopes:
            return MetricExportResult.SUCCESS
        ok = self._send(envelopes)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def envelopes(self, metrics_data: MetricsData) -> List[Envelope]:
        """What :meth:`export` sends for ``metrics_data`` (telemetry processors applied), unsent:
        ``ai_core.testing`` captures these."""
        opt_in = self._namespace_opt_in
        converted = self._convert_guarded(lambda m: metrics_to_envelopes(m, self.ikey, opt_in, self.role), metrics_data)
        return self._finish(converted) if converted else []

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._close()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True
