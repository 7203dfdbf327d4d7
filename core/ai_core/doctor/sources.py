"""Where each setting the doctor checks comes from: the command line, Django, Flask, the environment.

The doctor is a command-line tool over the whole package: it reads a Django settings module or
a Flask app's config with the adapter's own spelling of the option names
(``django_ai.options``, ``flask_ai.options``, imported when that framework is the one read),
so its messages name a setting exactly as the app's start-up would.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, List, Mapping, Optional, Tuple

from ai_core.connection_string import ENV_CONNECTION_STRING, ENV_INSTRUMENTATION_KEY
from ai_core.errors import ConfigurationError

DJANGO_SETTING = "APPLICATION_INSIGHTS"


@dataclass
class Config:
    """What the app would be configured with, before validation."""

    source: str  # where options are read: "settings.APPLICATION_INSIGHTS", "app.config", "environment"
    spelling: Callable[[str], str]  # canonical name -> how the user wrote it there
    described: str  # one line for the user: which module/app was read
    # canonical name -> value, per key as the framework spelled it: (key, value, error)
    entries: List[Tuple[str, Any, Optional[str]]] = field(default_factory=list)
    cli_connection_string: Optional[str] = None


class LoadFailed(Exception):
    """The framework module could not be imported or read; the text says why."""


def _import_error_text(exc: BaseException) -> str:
    text = "%s: %s" % (type(exc).__name__, exc)
    return text if len(text) <= 300 else text[:297] + "..."


def _import_module(dotted: str, what: str) -> Any:
    if not dotted or not all(part.isidentifier() for part in dotted.split(".")):
        raise LoadFailed("%r is not a dotted module path like 'mysite.settings'" % dotted)
    try:
        return importlib.import_module(dotted)
    except ConfigurationError as exc:
        raise LoadFailed("importing %s %s raised ConfigurationError: %s" % (what, dotted, exc)) from None
    except BaseException as exc:  # SystemExit, ImportError, a bug in the settings: all reported
        if isinstance(exc, KeyboardInterrupt):
            raise
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name and dotted.startswith(exc.name):
            hint = " (run the doctor from the project directory, or add it to PYTHONPATH)"
        raise LoadFailed("cannot import %s %s: %s%s" % (what, dotted, _import_error_text(exc), hint)) from None


def _django_entries(module: Any) -> List[Tuple[str, Any, Optional[str]]]:
    from django_ai.options import options_from_settings as options_from_django_settings

    settings = getattr(module, DJANGO_SETTING, None)
    if settings is None:
        return []
    try:
        options_from_django_settings(settings)  # the type check of the whole dict
    except ConfigurationError as exc:
        if not isinstance(settings, Mapping):
            return [("", None, str(exc))]
    entries = []
    for key, value in settings.items():
        # One key at a time, so every unknown key is reported, not just the first.
        try:
            ((name, value),) = options_from_django_settings({key: value}).items()
            entries.append((name, value, None))
        except ConfigurationError as exc:
            entries.append(("", None, str(exc)))
    return entries


def _flask_entries(config: Mapping[str, Any]) -> List[Tuple[str, Any, Optional[str]]]:
    from flask_ai.options import flask_key
    from flask_ai.options import options_from_config as options_from_flask_config

    entries: List[Tuple[str, Any, Optional[str]]] = []
    if DJANGO_SETTING in config:
        try:
            options_from_flask_config({DJANGO_SETTING: config[DJANGO_SETTING]})
        except ConfigurationError as exc:
            entries.append(("", None, str(exc)))
    for key, value in config.items():
        if not isinstance(key, str) or not key.startswith(flask_key("")):
            continue
        try:
            found = options_from_flask_config({key: value})
        except ConfigurationError as exc:
            entries.append(("", None, str(exc)))
            continue
        for name, value in found.items():
            entries.append((name, value, None))
    return entries


def _flask_app(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    module = _import_module(module_name.strip(), "the Flask app module")
    attr = attr.strip()
    if attr:
        call = attr.endswith("()")
        name = attr[:-2] if call else attr
        if not name.isidentifier():
            raise LoadFailed("%r: after ':' expected a name like 'app' or a factory call like 'create_app()'" % spec)
        obj = getattr(module, name, None)
        if obj is None:
            raise LoadFailed("module %s has no attribute %r" % (module_name, name))
        if call or (callable(obj) and not hasattr(obj, "config")):
            obj = _call_factory(obj, "%s:%s()" % (module_name, name))
    else:
        obj = None
        for name in ("app", "application"):
            candidate = getattr(module, name, None)
            if candidate is not None and hasattr(candidate, "config"):
                obj = candidate
                break
        else:
            for name in ("create_app", "make_app"):
                factory = getattr(module, name, None)
                if callable(factory):
                    obj = _call_factory(factory, "%s:%s()" % (module_name, name))
                    break
        if obj is None:
            raise LoadFailed(
                "module %s has no 'app' or 'application' and no create_app(): name it, e.g. "
                "--flask-app %s:my_app" % (module_name, module_name)
            )
    if not isinstance(getattr(obj, "config", None), Mapping):
        raise LoadFailed("%s is not a Flask app (it has no app.config mapping)" % spec)
    return obj


def _call_factory(factory: Callable[[], Any], what: str) -> Any:
    try:
        return factory()
    except ConfigurationError as exc:
        raise LoadFailed("%s raised ConfigurationError: %s" % (what, exc)) from None
    except Exception as exc:
        raise LoadFailed("%s failed: %s" % (what, _import_error_text(exc))) from None


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """The options the app would read, per the precedence in ``ai_core.doctor``'s docstring."""
    django_module = args.django_settings
    flask_app = args.flask_app
    origin = "--django-settings" if django_module else "--flask-app" if flask_app else ""
    if not django_module and not flask_app:
        if environ.get("DJANGO_SETTINGS_MODULE", "").strip():
            django_module, origin = environ["DJANGO_SETTINGS_MODULE"].strip(), "DJANGO_SETTINGS_MODULE"
        elif environ.get("FLASK_APP", "").strip():
            flask_app, origin = environ["FLASK_APP"].strip(), "FLASK_APP"
    if django_module:
        from django_ai.options import django_key

        module = _import_module(django_module, "the Django settings module")
        config = Config(
            source="settings.%s" % DJANGO_SETTING, spelling=django_key,
            described="Django settings %s (from %s), its %s dict" % (django_module, origin, DJANGO_SETTING),
            entries=_django_entries(module),
        )
        if not hasattr(module, DJANGO_SETTING):
            config.described = "Django settings %s (from %s): it has no %s setting, so only the environment counts" % (
                django_module, origin, DJANGO_SETTING)
    elif flask_app:
        from flask_ai.options import flask_key

        app = _flask_app(flask_app)
        config = Config(
            source="app.config", spelling=flask_key,
            described="Flask app %s (from %s), its %s* config keys" % (flask_app, origin, flask_key("")),
            entries=_flask_entries(app.config),
        )
    else:
        config = Config(source="the environment", spelling=str, described="the environment")
    config.cli_connection_string = args.connection_string
    return config


def connection_string_source(config: Config, framework_value: Any, environ: Mapping[str, str]) -> str:
    """Where the connection string in use was read, for the user (the environment fills in
    the keys an explicit one lacks)."""
    env_set = bool(environ.get(ENV_CONNECTION_STRING, "").strip())
    if config.cli_connection_string is not None and config.cli_connection_string.strip():
        primary = "--connection-string"
    elif framework_value is not None and (not isinstance(framework_value, str) or framework_value.strip()):
        primary = "%s in %s" % (config.spelling("connection_string"), config.source)
    elif env_set:
        return ENV_CONNECTION_STRING
    else:
        return ENV_INSTRUMENTATION_KEY
    return primary + (" (keys it lacks from %s)" % ENV_CONNECTION_STRING if env_set else "")
