"""Settings of the example Django shop, cloud role "django-shop".

Telemetry is two entries below: ``"django_ai"`` in ``INSTALLED_APPS`` and the
``APPLICATION_INSIGHTS`` dict (the README's options table, upper-cased). Nothing else in the
project knows about it: ``wsgi.py``, ``asgi.py``, ``manage.py`` and ``MIDDLEWARE`` are stock.

Environment variables:
    APPLICATIONINSIGHTS_CONNECTION_STRING  where telemetry goes (unset: telemetry off, one warning)
    DJANGO_DEBUG              1/true/yes/on for Django's debug mode (default off)
    DJANGO_SECRET_KEY         the secret key (default: a fixed key for the demo only)
    DATABASE_URL              postgres://user:password@host:port/dbname (default: SQLite)
    DJANGO_SHOP_DB            the SQLite file (default: db.sqlite3 next to manage.py)
    DJANGO_SHOP_STORAGE_DIR   offline storage for telemetry not sent yet (default: the package's)
    INVENTORY_URL             base URL of the inventory API for /api/stock/<id>/ (default: none,
                              answer from the database)
    DJANGO_SHOP_BROKER_URL    the Celery broker of the order confirmations, e.g.
                              redis://127.0.0.1:6379/0 (default: in-process memory, no worker)
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# DEMO ONLY: the fallback key is public (it is in this file), so anyone could forge sessions
# with it. Set DJANGO_SECRET_KEY anywhere but on your own machine.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "demo-only-insecure-key-do-not-deploy-5b1f0c9e2d"

DEBUG = os.environ.get("DJANGO_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "shop",
    # Application Insights: requests, ORM queries, outgoing calls, exceptions, logs, metrics.
    "django_ai",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "django_shop.urls"
WSGI_APPLICATION = "django_shop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """``postgres://user:password@host:port/dbname`` as a ``DATABASES`` entry (parsed here, so
    the example needs no extra package; Django's PostgreSQL backend needs psycopg or psycopg2)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured("DATABASE_URL: only postgres:// URLs are supported, not %r" % parts.scheme)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured("DATABASE_URL: no database name (postgres://user@host:port/dbname)")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Keep connections across requests (each new one costs a round trip, and a
        # dependency item for Django's `SET TimeZone` query).
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_SHOP_DB") or str(BASE_DIR / "db.sqlite3"),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "product-list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The inventory API /api/stock/<id>/ asks (the demo's "inventory" app); unset: the database answers.
INVENTORY_URL = os.environ.get("INVENTORY_URL") or None

# A typical logging set-up: everything from INFO up on the console. django_ai adds its own
# handler for Application Insights next to it; each record is exported once.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s django-shop[%(process)d] %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "shop": {"level": "INFO"},
    },
}

# Application Insights (django_ai). A None connection string is fine: django_ai then uses
# $APPLICATIONINSIGHTS_CONNECTION_STRING, and with neither, telemetry is off (one warning).
APPLICATION_INSIGHTS = {
    "CONNECTION_STRING": os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"),
    "ROLE_NAME": "django-shop",
    "EXCLUDED_ROUTES": ["health"],  # the URL name of /health/: load balancer probes are not telemetry
    "LOGGING_LEVEL": "INFO",  # INFO and above become traces (the default is WARNING)
}
if os.environ.get("DJANGO_SHOP_STORAGE_DIR"):
    APPLICATION_INSIGHTS["STORAGE_DIRECTORY"] = os.environ["DJANGO_SHOP_STORAGE_DIR"]

# Celery (django_shop/celery.py reads the CELERY_* keys). Its worker records its tasks with the
# same APPLICATION_INSIGHTS options, as role "django-shop-worker" (ROLE_NAME plus "-worker").
CELERY_BROKER_URL = os.environ.get("DJANGO_SHOP_BROKER_URL") or "memory://"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
