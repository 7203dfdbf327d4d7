"""appinsights-otel core: OpenTelemetry -> Azure Monitor Application Insights.

The public API (README, "Options")::

    tel = ai_core.configure(connection_string=None, **options)
    ai_core.track_event("CheckoutCompleted", properties={...}, measurements={...})
    ai_core.AzureMonitorTraceExporter / AzureMonitorLogExporter / AzureMonitorMetricExporter
    ai_core.ApplicationInsightsSampler(sampling_ratio)
    ai_core.ConnectionString.parse(text)
"""

from ai_core.configure import configure
from ai_core.connection_string import ConnectionString
from ai_core.custom_events import track_event
from ai_core.errors import ConfigurationError
from ai_core.exporters import AzureMonitorLogExporter, AzureMonitorMetricExporter, AzureMonitorTraceExporter
from ai_core.sampler import ApplicationInsightsSampler
from ai_core.telemetry import Telemetry
from ai_core.version import __version__

__all__ = [
    "ApplicationInsightsSampler",
    "AzureMonitorLogExporter",
    "AzureMonitorMetricExporter",
    "AzureMonitorTraceExporter",
    "ConfigurationError",
    "ConnectionString",
    "Telemetry",
    "__version__",
    "configure",
    "track_event",
]
