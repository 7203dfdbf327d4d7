"""The shop's Celery app, as Celery's Django guide lays it out: configured from the settings'
``CELERY_*`` keys, tasks found in each app's ``tasks.py``. Nothing of Application Insights
here: ``django_ai`` records the tasks of a worker that loads these settings (README, "Celery").

Run a worker with ``celery -A django_shop worker`` from this folder.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_shop.settings")

app = Celery("django_shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
