"""WSGI entry point (``gunicorn django_shop.wsgi``). Nothing telemetry-specific here: the
``django_ai`` entry in ``INSTALLED_APPS`` does it all."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_shop.settings")

application = get_wsgi_application()
