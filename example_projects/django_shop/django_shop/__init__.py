# The Celery app is loaded with the project, so `.delay()` in a view finds it and a worker
# started with `celery -A django_shop worker` loads the settings (Celery's Django layout).
from django_shop.celery import app as celery_app

__all__ = ["celery_app"]
