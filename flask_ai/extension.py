"""``ApplicationInsights``: the Flask extension (``ApplicationInsights(app)`` or ``init_app``).

Options are ``app.config["APPLICATION_INSIGHTS_<NAME>"]`` keys and keyword arguments of the
extension (defaults that ``app.config`` overrides, as Flask extensions do). Everything shared
comes from ``ai_core.web``: ``setup_web`` validates the options (errors name the config key),
configures the process once and returns this app's rules; ``flask_ai.wsgi`` makes the request
spans and ``flask_ai.signals`` fills them from Flask's request. Per-app state lives in
``app.extensions["application_insights"]``: several apps in one process (an app factory called
twice, apps behind a dispatcher) each keep their own role name and exclusions.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, Dict, Optional

from ai_core.options import resolve_options
from ai_core.telemetry import Telemetry
from ai_core.web.setup import AppRequestRules, setup_web
from flask_ai import options as flask_options
from flask_ai.user import flask_user_id

logger = logging.getLogger("ai_core")

EXTENSION_KEY = "application_insights"


class ExtensionState:
    """What ``app.extensions["application_insights"]`` holds for one app."""

    def __init__(self, web: Optional[AppRequestRules]) -> None:
        self.web = web

    @property
    def telemetry(self) -> Optional[Telemetry]:
        """The process's pipeline (``force_flush()``, ``shutdown()``); None in the dev server's
        reloader watcher, which records nothing."""
        return self.web.telemetry if self.web is not None else None


class ApplicationInsights:
    """Application Insights telemetry for a Flask app.

    ``ApplicationInsights(app)``, or ``ai = ApplicationInsights()`` at module level and
    ``ai.init_app(app)`` in the app factory. Keyword arguments are options of the README's
    option table (``ApplicationInsights(app, excluded_routes=["health"])``); the app's
    ``APPLICATION_INSIGHTS_<NAME>`` config keys override them.

    Raises:
        ConfigurationError: a bad keyword here, or a bad config key at ``init_app``, named as
            written (``app.config['APPLICATION_INSIGHTS_SAMPLING_RATIO'] ...``).
    """

    def __init__(self, app: Any = None, **options: Any) -> None:
        # Checked now, so a wrong keyword is reported where it was written.
        resolve_options(options, environ={}, source="ApplicationInsights()")
        self._options: Dict[str, Any] = dict(options)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Any) -> None:
        """Switch telemetry on for ``app``; a second call for the same app does nothing."""
        if EXTENSION_KEY in app.extensions:
            return
        if _is_reloader_watcher():
            # `flask run` with its reloader: this process only restarts the served child.
            app.extensions[EXTENSION_KEY] = ExtensionState(None)
            return
        # Keyword options are canonical names already; the app's config keys override them.
        from_config = flask_options.options_from_config(app.config)
        options: Dict[str, Any] = {**self._options, **from_config}
        web = setup_web(options, _labels(from_config), flask_options.SOURCE, role_default=app.name,
                        default_user_reader=flask_user_id)
        app.extensions[EXTENSION_KEY] = ExtensionState(web)
        if web.enabled:
            _instrument(app, web)


def _labels(from_config: Dict[str, Any]) -> Callable[[str], str]:
    """Messages name an option as the user wrote it: the config key, or the keyword."""
    return lambda name: flask_options.label(name) if name in from_config else name


def _instrument(app: Any, web: AppRequestRules) -> None:
    from flask_ai.logs import export_uncaught_exceptions_once, keep_flask_console_logging
    from flask_ai.signals import RequestSignals
    from flask_ai.wsgi import TelemetryMiddleware

    if getattr(app, "_is_instrumented_by_opentelemetry", False):
        logger.warning(
            "Flask app %r is already instrumented by FlaskInstrumentor: flask_ai leaves its requests "
            "to it (remove that instrumentation to get route names, users and client IPs).", app.name
        )
        return
    app.wsgi_app = TelemetryMiddleware(app, app.wsgi_app, web)
    RequestSignals(web).connect(app)
    export_uncaught_exceptions_once(web.telemetry.log_handler)
    keep_flask_console_logging(app, web.telemetry.log_handler)


def _is_reloader_watcher() -> bool:
    """``flask run`` with the reloader (``--reload``, ``--debug``, ``FLASK_DEBUG``) imports the
    app in a watcher process that serves nothing and runs the served child with
    ``WERKZEUG_RUN_MAIN=true``."""
    if os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return False
    argv = sys.argv
    program = argv[0] if argv else ""
    runs_flask_cli = os.path.basename(program) == "flask" or program.endswith(os.path.join("flask", "__main__.py"))
    if not runs_flask_cli or "run" not in argv[1:]:
        return False
    if "--no-reload" in argv:
        return False
    if "--reload" in argv:
        return True
    if os.environ.get("FLASK_RUN_RELOAD"):  # click's environment spelling of --reload/--no-reload
        return _truthy(os.environ["FLASK_RUN_RELOAD"])
    from flask.helpers import get_debug_flag

    return get_debug_flag()  # --debug sets FLASK_DEBUG before the app is loaded


def _truthy(value: Optional[str]) -> bool:
    return bool(value) and str(value).lower() not in ("0", "false", "no", "off")
