"""The background-task layer: what a Celery task execution means for telemetry.

Next to the request layer (``ai_core.web``) and built the same way: it uses the core
(options, pipeline, exclusion, sampling), never ``ai_core.web``, and no core module imports
it. Flask and FastAPI apps call :func:`instrument_celery` on their Celery app; ``django_ai``
calls it by itself in a worker that loads the Django settings (README, "Celery")::

    from ai_core.tasks import instrument_celery
    instrument_celery(celery_app, connection_string=..., excluded_tasks=["shop.tasks.ping"])

Importing this package does not import Celery.
"""

from typing import Any

__all__ = ["instrument_celery"]


def instrument_celery(celery_app: Any, **options: Any) -> None:
    """Record ``celery_app``'s task runs as requests and their enqueues as dependencies
    (see :func:`ai_core.tasks.celery_setup.instrument_celery`)."""
    from ai_core.tasks.celery_setup import instrument_celery as instrument

    instrument(celery_app, **options)
