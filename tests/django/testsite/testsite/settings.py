"""A small Django site the adapter tests serve with real servers (gunicorn, uvicorn, runserver)."""

import json
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "testsite.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shop",
    "django_ai",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("TESTSITE_DB", ":memory:")}}
if os.environ.get("TESTSITE_PG"):  # {"HOST": ..., "PORT": ..., "NAME": ..., "USER": ...}: the test PostgreSQL
    DATABASES["default"] = dict(json.loads(os.environ["TESTSITE_PG"]), ENGINE="django.db.backends.postgresql")
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": False}]

# A typical LOGGING dict with its own console handler: records must still be exported once.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"shop": {"handlers": ["console"], "level": "INFO", "propagate": True}},
}

APPLICATION_INSIGHTS = {
    "CONNECTION_STRING": os.environ.get("TESTSITE_CONNECTION_STRING"),
    "LOGGING_LEVEL": "INFO",
    "EXCLUDED_ROUTES": ["health", "api:health"],
    "EXCLUDED_URLS": ["^/skip/"],
}
APPLICATION_INSIGHTS.update(json.loads(os.environ.get("TESTSITE_AI", "{}")))

# A test adds apps, middleware or its own URL conf: {"INSTALLED_APPS+": [...], "ROOT_URLCONF": ...}
for _name, _value in json.loads(os.environ.get("TESTSITE_SETTINGS", "{}")).items():
    globals()[_name.rstrip("+")] = globals()[_name[:-1]] + _value if _name.endswith("+") else _value
