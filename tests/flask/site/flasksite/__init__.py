"""A small Flask app the adapter tests serve with real servers (gunicorn, the dev server).

An app factory, as Flask's docs write one: the extension object is created once at module level
and ``init_app`` runs in ``create_app``, which ``wsgi.py`` calls twice (two apps, two roles, one
process). Options come from ``FLASKSITE_*`` environment variables set by the tests.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask
from flask_login import LoginManager

from flask_ai import ApplicationInsights
from flasksite import db

ai = ApplicationInsights()
login_manager = LoginManager()


def create_app(name: str = "flasksite", **config: Any) -> Flask:
    app = Flask(name, root_path=os.path.dirname(os.path.abspath(__file__)))
    app.config.update(
        SECRET_KEY="test-only-not-secret",
        APPLICATION_INSIGHTS_CONNECTION_STRING=os.environ.get("FLASKSITE_CONNECTION_STRING"),
        APPLICATION_INSIGHTS_LOGGING_LEVEL="INFO",
        APPLICATION_INSIGHTS_EXCLUDED_ROUTES=["health", "api.health"],
        APPLICATION_INSIGHTS_EXCLUDED_URLS=["^/skip/"],
    )
    # FLASKSITE_AI='{"TRUSTED_PROXIES": 1}': more APPLICATION_INSIGHTS_* keys for this run.
    extra = json.loads(os.environ.get("FLASKSITE_AI", "{}"))
    app.config.update({"APPLICATION_INSIGHTS_" + key: value for key, value in extra.items()})
    app.config.update(config)

    from flasksite import views

    login_manager.init_app(app)
    views.register(app)
    ai.init_app(app)
    return app


def broken_user_reader(request: Any) -> str:
    """A project's user_id callable with a bug: it must cost the user tag, never the request."""
    raise KeyError("tenant")
