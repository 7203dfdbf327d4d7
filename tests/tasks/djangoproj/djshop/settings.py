"""Settings of the Celery test project: the connection string, the offline storage and the
broker come from the environment the test sets (DJSHOP_*)."""

import json
import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django_ai", "orders"]
MIDDLEWARE = []
ROOT_URLCONF = "djshop.urls"
DATABASES = {}
USE_TZ = True

APPLICATION_INSIGHTS = dict(
    {"CONNECTION_STRING": os.environ.get("DJSHOP_CONNECTION_STRING"),
     "STORAGE_DIRECTORY": os.environ.get("DJSHOP_STORAGE"),
     "EXCLUDED_TASKS": ["orders.tasks.ping"]},
    **json.loads(os.environ.get("DJSHOP_AI") or "{}"),
)

CELERY_BROKER_URL = os.environ.get("DJSHOP_BROKER_URL", "memory://")
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

if os.environ.get("DJSHOP_BEAT"):  # the beat test: one confirmation per second
    CELERY_BEAT_SCHEDULE = {"confirm": {"task": "orders.tasks.send_confirmation", "schedule": 1.0, "args": (99,)}}
