"""appinsights-otel core: OpenTelemetry -> Azure Monitor Application Insights.

The public API is re-exported here; see DESIGN.md section 2.
"""

from ai_core.errors import ConfigurationError
from ai_core.version import __version__

__all__ = ["ConfigurationError", "__version__"]
