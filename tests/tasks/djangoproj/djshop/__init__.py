"""A Django project laid out as Celery's Django guide does: the Celery app is imported here, so
it exists (and is current) whenever the settings are loaded, in the web process and the worker."""

from .celery import app as celery_app

__all__ = ["celery_app"]
