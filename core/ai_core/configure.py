"""``ai_core.configure()``: one call that every adapter makes, building the whole pipeline once.

It validates the options, builds the resource (no cloud metadata probing), the tracer,
logger and meter providers with our exporters, the logging handler and the outbound
instrumentations, and returns a handle. It makes no network call and takes milliseconds.
A second call with the same options returns the same handle; with different options it
raises, because two pipelines in one process would duplicate every item.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, List, Optional

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider

from ai_core.autocollected_metrics import AutocollectedMeterProvider, standard_metric_views
from ai_core.envelopes.spans import request_operation_name
from ai_core.errors import ConfigurationError
from ai_core.exclusion import Exclusion
from ai_core.delivery.handoff import (
    CaptureOnlyWorker,
    NoDelivery,
    QueueLogRecordProcessor,
    QueueSpanProcessor,
    WorkerMetricReader,
    WorkerStartingMeterProvider,
    capture_only_connection_string,
    capture_only_requested,
    collect_all,
)
from ai_core.delivery.worker import ExportWorker
from ai_core.exporters import (
    AzureMonitorLogExporter,
    AzureMonitorMetricExporter,
    AzureMonitorTraceExporter,
    build_sender,
)
from ai_core.instrumentations import enable_instrumentations
from ai_core.live_metrics import build_live_metrics
from ai_core.log_export import install_log_handler
from ai_core.options import Options, resolve_options
from ai_core.otlp import build_otlp_exporters
from ai_core.performance_counters import enable_performance_counters
from ai_core.request_context import RequestContextRegistry, RequestContextSpanProcessor
from ai_core.role import process_role
from ai_core.sampler import ApplicationInsightsSampler
from ai_core.telemetry import Telemetry

logger = logging.getLogger("ai_core")

_lock = threading.Lock()
_current: Optional[Telemetry] = None


def configure(connection_string: Optional[str] = None, **options: Any) -> Telemetry:
    """Send this process's traces, logs and metrics to Application Insights.

    ``connection_string`` defaults to ``APPLICATIONINSIGHTS_CONNECTION_STRING``; without one,
    telemetry is off and a single warning says so. Every other keyword is an option of
    the README's option table; a wrong name, type or value raises ``ConfigurationError`` that
    names it. Returns the process's :class:`Telemetry` handle.
    """
    explicit: Dict[str, Any] = dict(options)
    if connection_string is not None:
        explicit["connection_string"] = connection_string
    return configure_resolved(resolve_options(explicit))


def configure_resolved(
    opts: Options, role_default: Optional[str] = None, role_name: Optional[str] = None
) -> Telemetry:
    """``configure()`` for options already resolved from a framework's own settings.

    ``role_default`` is the app's identity (Django project, Flask ``app.name``, FastAPI
    ``app.title``), used when neither ``role_name`` nor ``OTEL_SERVICE_NAME`` /
    ``OTEL_RESOURCE_ATTRIBUTES`` name the role. It is a default, not an option: a second call
    with the same options returns the same handle whatever default it brings. ``role_name`` is
    an app's explicit role kept out of ``opts`` for the same reason (two apps, one pipeline):
    it names the process's role like the ``role_name`` option when this call builds the pipeline.
    """
    global _current
    with _lock:
        if _current is not None and not _current.is_shut_down:
            if _current.options == opts:
                return _current
            raise ConfigurationError(
                "ai_core.configure() was already called in this process with different options "
                "(%s). Configure once (one INSTALLED_APPS entry, one init_app, one middleware), or "
                "call shutdown() on the first handle before configuring again."
                % ", ".join(_current.options.differences(opts) or ("unknown",))
            )
        _current = _build(opts, role_default, role_name)
        return _current


def current() -> Optional[Telemetry]:
    """The live handle of this process, if ``configure()`` has run."""
    return _current if _current is not None and not _current.is_shut_down else None




def _build(opts: Options, role_default: Optional[str] = None, role_name: Optional[str] = None) -> Telemetry:
    parsed = opts.connection_string
    if not opts.enabled:
        logger.warning("Application Insights telemetry is off: the enabled option is False.")
        return Telemetry(opts, enabled=False)
    # Under the pytest plugin (README, "Testing your telemetry"): a pipeline that only feeds
    # ai_core.testing's captures, with or without a connection string; it never sends.
    capture_only = capture_only_requested()
    if parsed is None and not capture_only:
        logger.warning(
            "Application Insights telemetry is off: no connection string (pass connection_string= "
            "or set APPLICATIONINSIGHTS_CONNECTION_STRING)."
        )
        return Telemetry(opts, enabled=False)
    if capture_only:
        parsed = capture_only_connection_string(parsed)

    # The one decision every signal's role tags come from (README, "Where the role name comes
    # from"); fixed for the process's life: the SDK replaces service.instance.id in a forked
    # child, and the role instance the user configured must survive that.
    role, resource = process_role(role_name or opts.role_name, opts.role_instance, role_default)
    # Before anything else is built: a missing optional package is a ConfigurationError.
    otlp = build_otlp_exporters(opts.otlp_endpoint) if opts.otlp_endpoint else None
    registry = RequestContextRegistry()
    sender: Any = (
        NoDelivery() if capture_only
        else build_sender(parsed, opts.storage_directory, opts.disable_offline_storage, credential=opts.credential)
    )
    exporter_kwargs: Dict[str, Any] = dict(
        connection_string=parsed,
        credential=opts.credential,
        role=role,
        telemetry_processors=opts.telemetry_processors,
        sender=sender,
    )
    trace_exporter = AzureMonitorTraceExporter(request_lookup=registry, **exporter_kwargs)
    log_exporter = AzureMonitorLogExporter(
        request_lookup=registry, trace_sampling_ratio=opts.sampling_ratio, **exporter_kwargs
    )
    metric_exporter = AzureMonitorMetricExporter(**exporter_kwargs)
    metric_readers = [
        WorkerMetricReader(metric_exporter, to_envelopes=metric_exporter.envelopes if capture_only else None)
    ]
    if otlp is not None:
        metric_readers.append(WorkerMetricReader(otlp.metric_exporter))

    # One background thread for every signal and destination, started by the first item (not here).
    worker = (CaptureOnlyWorker if capture_only else ExportWorker)(
        drain=sender.drain,
        has_backlog=sender.has_backlog,
        collect_metrics=collect_all(metric_readers),
        metrics_every_s=_metric_interval_s(),
    )
    span_channels = [worker.add_channel("spans", trace_exporter.export)]
    log_channels = [worker.add_channel("log records", log_exporter.export)]
    if otlp is not None:
        span_channels.append(worker.add_channel("otlp spans", otlp.export_spans))
        log_channels.append(worker.add_channel("otlp log records", otlp.export_logs))

    exclusion = Exclusion(opts.excluded_urls, opts.excluded_routes)
    sampler = ApplicationInsightsSampler(opts.sampling_ratio, exclude=exclusion.excludes_span_start)
    tracer_provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
    tracer_provider.add_span_processor(RequestContextSpanProcessor(registry, request_operation_name))
    for proc in opts.span_processors:
        tracer_provider.add_span_processor(proc)
    tracer_provider.add_span_processor(QueueSpanProcessor(worker, *span_channels, to_envelopes=trace_exporter.envelopes))

    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for proc in opts.log_record_processors:
        logger_provider.add_log_record_processor(proc)
    logger_provider.add_log_record_processor(
        QueueLogRecordProcessor(worker, *log_channels, to_envelopes=log_exporter.envelopes)
    )
    if not capture_only:  # README, "Live Metrics": idle (one flag read per item) until someone watches
        live_span, live_log = build_live_metrics(
            opts.live_metrics, parsed, role.name, role.instance,
            opts.credential, registry, opts.sampling_ratio, trace_exporter.envelopes, log_exporter.envelopes)
        if live_span is not None:
            tracer_provider.add_span_processor(live_span)
            logger_provider.add_log_record_processor(live_log)

    meter_provider = WorkerStartingMeterProvider(
        worker,
        resource=resource,
        metric_readers=metric_readers,
        exemplar_filter=_exemplar_filter(),
        views=standard_metric_views(),
        shutdown_on_exit=False,
    )
    # The stock instrumentations get a provider whose instruments Application Insights drops
    # anyway (active requests, body sizes) record nothing (ai_core.autocollected_metrics).
    instrumentation_meters = AutocollectedMeterProvider(meter_provider)
    if opts.performance_counters and not capture_only:  # README, "Performance counters"
        enable_performance_counters(meter_provider, tracer_provider, logger_provider, opts.sampling_ratio,
                                    readers=len(metric_readers))

    _set_global_providers(tracer_provider, logger_provider, meter_provider)
    handler = install_log_handler(logger_provider, opts.logger_name, opts.logging_level)
    instrumented = enable_instrumentations(opts.instrumentations, tracer_provider, instrumentation_meters)
    telemetry = Telemetry(
        opts,
        enabled=True,
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        meter_provider=meter_provider,
        instrumentation_meter_provider=instrumentation_meters,
        log_handler=handler,
        instrumented=instrumented,
        exclusion=exclusion,
        request_registry=registry,
        worker=worker,
        sender=sender,
        role=role,
        role_holders=(trace_exporter, log_exporter, metric_exporter),
    )
    telemetry.install_exit_hooks()
    meter_provider.arm()
    worker.start_if_backlog()
    return telemetry


def _exemplar_filter() -> Any:
    """No exemplars unless ``OTEL_METRICS_EXEMPLAR_FILTER`` asks for them: Application
    Insights has nowhere to put them, and the SDK's default (trace-based) samples one into a
    reservoir on every measurement made inside a span, i.e. on every request."""
    if os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER"):
        return None  # the SDK reads the variable itself
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter

    return AlwaysOffExemplarFilter()


def _metric_interval_s() -> float:
    """``OTEL_METRIC_EXPORT_INTERVAL`` (milliseconds, the SDK's own variable), default 60 s."""
    raw = os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "")
    try:
        value = float(raw) / 1000 if raw else 60.0
    except ValueError:
        logger.warning("OTEL_METRIC_EXPORT_INTERVAL=%r is not a number of milliseconds; using 60000", raw)
        return 60.0
    return max(value, 1.0)


def _set_global_providers(tracer_provider: Any, logger_provider: Any, meter_provider: Any) -> None:
    """Make the global providers lead to this pipeline, unless the app already set its own.

    The OpenTelemetry API allows setting each global once, so the globals are set once per
    process to switching providers (ai_core.global_providers) that each configure() points at
    its own providers: configure() after shutdown() gets what the app records through
    trace.get_tracer(), the logs API and metrics.get_meter(), even through tracers and
    instruments obtained earlier. A global provider the app set first is kept.
    """
    from ai_core.global_providers import install

    install(tracer_provider, logger_provider, meter_provider)
