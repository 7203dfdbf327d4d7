"""The Flask example shop: an app factory whose only telemetry set-up is ``ai.init_app(app)``.

Run it (from ``example_projects/``)::

    flask --app flask_shop init-db
    flask --app flask_shop run --debug                      # the development server, or
    gunicorn -w 2 'flask_shop:create_app()'

Every ``FLASK_*`` environment variable is a config key (``app.config.from_prefixed_env()``):
``FLASK_DATABASE``, ``FLASK_INVENTORY_URL``, ``FLASK_SECRET_KEY``, and any option as
``FLASK_APPLICATION_INSIGHTS_<NAME>`` (``FLASK_APPLICATION_INSIGHTS_SAMPLING_RATIO=0.5``). The
connection string comes from ``APPLICATIONINSIGHTS_CONNECTION_STRING``; without one the shop
runs with telemetry off and says so once.
"""

from __future__ import annotations

import os
from logging.config import dictConfig
from typing import Any, Mapping, Optional

from flask import Flask
from flask_login import LoginManager

from flask_ai import ApplicationInsights

# Flask's documented logging set-up, before the app exists: INFO and up on the console. Records
# at or above APPLICATION_INSIGHTS_LOGGING_LEVEL (INFO below) are also exported, once.
dictConfig({
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"default": {"format": "[%(asctime)s] %(levelname)s in %(module)s: %(message)s"}},
    "handlers": {"wsgi": {"class": "logging.StreamHandler", "stream": "ext://flask.logging.wsgi_errors_stream",
                          "formatter": "default"}},
    "root": {"level": "INFO", "handlers": ["wsgi"]},
})

ai = ApplicationInsights()
login_manager = LoginManager()
login_manager.login_view = "auth.login"


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="dev-only-not-secret",  # FLASK_SECRET_KEY for anything but the demo
        DATABASE=os.path.join(app.root_path, "flask_shop.sqlite3"),  # FLASK_DATABASE elsewhere
        INVENTORY_URL=None,  # the inventory API that /api/stock/<id> asks
        APPLICATION_INSIGHTS_ROLE_NAME="flask-shop",  # default: app.name ("flask_shop")
        APPLICATION_INSIGHTS_EXCLUDED_ROUTES=["shop.health"],  # the endpoint of /health
        APPLICATION_INSIGHTS_LOGGING_LEVEL="INFO",
    )
    app.config.from_prefixed_env()
    app.config.update(config or {})

    from flask_shop import auth, db, shop

    db.init_app(app)
    login_manager.init_app(app)
    app.register_blueprint(shop.bp)
    app.register_blueprint(shop.api, url_prefix="/api")
    app.register_blueprint(auth.bp)
    ai.init_app(app)
    return app
