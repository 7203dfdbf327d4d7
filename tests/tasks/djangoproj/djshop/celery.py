"""The project's Celery app, configured from the Django settings (CELERY_* keys). Nothing of
Application Insights here: django_ai records the tasks by itself (README, "Celery")."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")

app = Celery("djshop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
