"""``AppConfig.ready()``: read ``settings.APPLICATION_INSIGHTS`` and switch everything on.

Our request middleware (``django_ai.middleware``) creates the request spans, as the stock
``opentelemetry-instrumentation-django`` one would, and adds what that one lacks: client IP,
user, route names while the view runs, 404/403 as answers, the streamed body, exclusion
before anything is recorded. It is inserted into ``settings.MIDDLEWARE`` here, before Django
builds its handler, so users never list it. Everything else comes from ``ai_core.web``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Optional

from django.apps import AppConfig

from ai_core.errors import ConfigurationError
from django_ai.options import SETTING

logger = logging.getLogger("ai_core")

_MIDDLEWARE = "django_ai.middleware.ApplicationInsightsMiddleware"
_STOCK_MIDDLEWARE = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"


class DjangoAIConfig(AppConfig):
    name = "django_ai"
    verbose_name = "Application Insights"

    def ready(self) -> None:
        from django_ai import checks  # noqa: F401  (registers the settings check)

        if _is_autoreload_watcher():
            return  # runserver's watcher only restarts the served child: it records nothing
        from django.conf import settings

        try:
            _start(settings)
        except ConfigurationError as err:
            checks.problem = str(err)
            if _runs_management_command():
                # `manage.py check`, `runserver` and most commands run the system checks,
                # which show the error in Django's own format; a command that skips the
                # checks still says it here.
                logger.error("Application Insights telemetry is off: %s", err)
                return
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(str(err)) from None


def _start(settings: Any) -> None:
    from ai_core.web.setup import setup_web
    from django_ai import options as django_options
    from django_ai.celery_tasks import instrument_project_celery
    from django_ai.hooks import django_user_id
    from django_ai.logs import export_django_request_records_once

    # First: in a Celery worker, the pipeline takes the worker's role; celery beat sets up
    # nothing unless RECORD_BEAT asks (README, "Celery").
    if instrument_project_celery(getattr(settings, SETTING, None) or {}, project_name(settings)):
        return
    web = setup_web(
        django_options.options_from_settings(getattr(settings, SETTING, None) or {}),
        django_options.label,
        django_options.SOURCE,
        role_default=project_name(settings),
        default_user_reader=django_user_id,
    )
    if not web.enabled:
        return
    _instrument(web, settings)
    export_django_request_records_once(web.telemetry.log_handler)


def _instrument(web: Any, settings: Any) -> None:
    """Our request middleware goes first in ``MIDDLEWARE`` (where the stock instrumentation puts
    its own), so its span covers every other middleware; a second ``ready()`` (test runners, a
    re-used process) adds nothing."""
    from django_ai.middleware import use_rules

    middleware = list(settings.MIDDLEWARE)
    if _STOCK_MIDDLEWARE in middleware:
        # Two request middlewares would make each request a server span and an in-process one.
        logger.warning(
            "Django is already instrumented by DjangoInstrumentor: django_ai leaves its requests to it "
            "(remove that instrumentation to get route names, users, client IPs and exclusions).")
        return
    use_rules(web)
    if _MIDDLEWARE not in middleware:
        settings.MIDDLEWARE = [_MIDDLEWARE] + middleware


def project_name(settings: Any) -> Optional[str]:
    """The role default: the project package (``mysite`` of ``mysite.urls``/``mysite.settings``)."""
    for dotted in (getattr(settings, "ROOT_URLCONF", None), os.environ.get("DJANGO_SETTINGS_MODULE")):
        if isinstance(dotted, str) and dotted.strip():
            return dotted.strip().split(".")[0]
    return None


def _is_autoreload_watcher() -> bool:
    from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

    argv = sys.argv[1:]
    return (
        "runserver" in argv[:1]
        and "--noreload" not in argv
        and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
    )


def _runs_management_command() -> bool:
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    return name in ("manage.py", "django-admin", "django-admin.py") or (
        name == "__main__.py" and "django" in sys.argv[0]
    )
