"""A Flask shop laid out as Flask's Celery guide does: the module the worker and beat load
(``celery -A flask_shop``) creates the Flask app, which sets up telemetry, and the Celery app
from it (README, "Celery"). Set by the tests: SHOP_BROKER_URL, SHOP_AI (JSON options)."""

from __future__ import annotations

import json
import os

from celery import Celery
from flask import Flask

from ai_core.tasks import instrument_celery
from flask_ai import ApplicationInsights

OPTIONS = json.loads(os.environ.get("SHOP_AI") or "{}")


def create_app() -> Flask:
    app = Flask("flask_shop")
    ApplicationInsights(app, **OPTIONS)
    celery_app = Celery(app.name, broker=os.environ["SHOP_BROKER_URL"])
    celery_app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                           beat_schedule={"ping": {"task": "flask_shop.ping", "schedule": 1.0}})
    instrument_celery(celery_app, **OPTIONS)
    app.extensions["celery"] = celery_app
    return app


flask_app = create_app()
celery_app = flask_app.extensions["celery"]


@celery_app.task(name="flask_shop.ping")
def ping() -> str:
    return "pong"
