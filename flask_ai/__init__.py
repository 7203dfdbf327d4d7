"""Application Insights for Flask: ``ApplicationInsights(app)``, or ``ai.init_app(app)`` in a factory.

Options come from ``app.config["APPLICATION_INSIGHTS_<NAME>"]`` (the README's option table,
upper-cased) or from keyword arguments of :class:`ApplicationInsights`. Requests, outgoing
calls, SQL queries, exceptions, logs and metrics are then sent; see the README's "Flask" section.
"""

from flask_ai.extension import EXTENSION_KEY, ApplicationInsights, ExtensionState

__all__ = ["EXTENSION_KEY", "ExtensionState", "ApplicationInsights"]
