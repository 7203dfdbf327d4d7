"""Celery in a Django project: nothing to add (README, "Celery").

A project's Celery app (``app.config_from_object("django.conf:settings", namespace="CELERY")``
in ``proj/celery.py``, imported by ``proj/__init__.py``) is current by the time Django's apps
are ready, in the web process and in a worker alike: a worker calls ``django.setup()`` while
it loads the task modules. So ``ready()`` hands that app to ``ai_core.tasks`` with the
project's ``APPLICATION_INSIGHTS`` options; in a worker this happens before the web set-up,
so the process's pipeline carries the worker's role (the project plus ``-worker``). A
``celery beat`` process loads the settings too: there nothing at all is set up, unless
``RECORD_BEAT`` asks for beat's enqueues.
"""

from __future__ import annotations

import sys
from typing import Any, Mapping, Optional


def instrument_project_celery(settings_dict: Any, project: Optional[str]) -> bool:
    """Record the tasks of the project's Celery app, if the project has one.

    Settings that do not resolve are left to the web set-up that follows, which reports them
    in Django's words (``APPLICATION_INSIGHTS['SAMPLING_RATIO']``). Returns True in a
    ``celery beat`` process that is to send nothing: the web set-up is skipped there.
    """
    if "celery" not in sys.modules:  # the project never imported Celery: it has no Celery app
        return False
    from ai_core.instrumentations import instrumentation_available

    if not instrumentation_available("celery") or not isinstance(settings_dict, Mapping):
        return False
    from celery import current_app

    from ai_core.errors import ConfigurationError
    from ai_core.options import resolve_options
    from ai_core.tasks.celery_setup import instrument_celery_app, quiet_beat

    try:
        opts = resolve_options(
            {str(key).lower(): value for key, value in settings_dict.items()}, source="settings",
            spelling=lambda name: "APPLICATION_INSIGHTS[%r]" % name.upper(),
        )
    except ConfigurationError:
        return False
    instrument_celery_app(current_app._get_current_object(), opts, web_role=project)
    return quiet_beat()
