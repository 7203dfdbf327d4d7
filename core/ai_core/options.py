"""The one option table (README, "Options") and the one routine that resolves it.

Every option has one canonical ``snake_case`` name, a default (the ``Options`` field default),
a converter that checks type and value and returns the normalised value, and a one-line doc.
The core knows only the canonical names. A framework's own spelling (Django's
``APPLICATION_INSIGHTS = {"SAMPLING_RATIO": ..}``, Flask's
``app.config["APPLICATION_INSIGHTS_SAMPLING_RATIO"]``) is its adapter's business
(``django_ai.options``, ``flask_ai.options``): the adapter translates the names and gives
:func:`resolve_options` a function that labels a name the way the user wrote it, so every
message names the setting as written.

Precedence: an explicit value wins over the environment, which wins over the default. ``None``
means "not set" for every option, so ``connection_string=os.environ.get(...)`` behaves.
Only the environment variables the README names for an option are read here; ``OTEL_SERVICE_NAME``
and ``OTEL_RESOURCE_ATTRIBUTES`` are applied when the resource is built, because the role has a
fallback below them that is not an option: the framework's app identity.
"""

from __future__ import annotations

import difflib
import importlib
import ipaddress
import logging
import os
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from ai_core.connection_string import ENV_CONNECTION_STRING, ConnectionString
from ai_core.errors import ConfigurationError
from ai_core.sampler import validate_sampling_ratio

__all__ = [
    "OPTIONS",
    "SUPPORTED_INSTRUMENTATIONS",
    "OptionSpec",
    "Options",
    "did_you_mean",
    "import_reader",
    "resolve_options",
    "wrong_value",
]

SUPPORTED_INSTRUMENTATIONS: Tuple[str, ...] = (
    "requests", "urllib", "urllib3", "httpx", "psycopg2", "psycopg", "sqlite3", "redis", "asyncpg", "celery",
)
"""Instrumentations ``instrumentations`` may name: outbound dependencies, and Celery tasks
(wired by ``ai_core.tasks``, README "Celery")."""

APP_OPTIONS: Tuple[str, ...] = (
    "role_name", "excluded_urls", "excluded_routes", "user_id", "trusted_proxies", "browser_sdk_loader",
    "excluded_tasks", "record_beat",
)
"""Options of one app (a web app, a Celery app), not of the process: two apps may set them
differently and still share one pipeline."""

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
UserReader = Callable[[Any], Optional[str]]
UserIdOption = Union[bool, UserReader]
TelemetryProcessor = Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]


@dataclass(frozen=True)
class Options:
    """Resolved, validated options: what ``configure()`` and the adapters work from.

    Equality compares every option (callables and objects by identity), which is how a second
    ``configure()`` tells whether it was asked for something different; ``differences`` says what.
    """

    connection_string: Optional[ConnectionString] = None
    enabled: bool = True
    role_name: Optional[str] = None  # None: the framework's app identity, then OTEL_SERVICE_NAME
    role_instance: Optional[str] = None  # None: the host name
    sampling_ratio: float = 1.0
    excluded_urls: Tuple["re.Pattern[str]", ...] = ()
    excluded_routes: Tuple[str, ...] = ()
    user_id: UserIdOption = True
    trusted_proxies: Union[int, Tuple[IPNetwork, ...]] = 0
    logging_level: int = logging.WARNING
    logger_name: str = ""
    instrumentations: Optional[Tuple[str, ...]] = None  # None: all supported ones that are installed
    storage_directory: Optional[str] = None  # None: a per-user directory under the temp dir
    disable_offline_storage: bool = False
    otlp_endpoint: Optional[str] = None
    span_processors: Tuple[Any, ...] = ()
    log_record_processors: Tuple[Any, ...] = ()
    telemetry_processors: Tuple[TelemetryProcessor, ...] = ()
    credential: Any = None
    browser_sdk_loader: bool = False
    live_metrics: Optional[bool] = None  # None: on where the connection string implies a live endpoint
    performance_counters: bool = True  # process/machine load, request and exception rates (ai_core.performance_counters)
    excluded_tasks: Tuple[str, ...] = ()  # Celery task names or fnmatch patterns (ai_core.tasks)
    record_beat: bool = False  # celery beat records its scheduled enqueues (ai_core.tasks)

    def fingerprint(self) -> Tuple[Tuple[str, Any], ...]:
        """``(name, value)`` for every option, in table order."""
        return tuple((f.name, getattr(self, f.name)) for f in fields(self))

    def differences(self, other: "Options") -> Tuple[str, ...]:
        """Names of the options whose values differ from ``other``'s."""
        return tuple(name for (name, mine), (_, theirs) in zip(self.fingerprint(), other.fingerprint()) if mine != theirs)


# --- the table ---------------------------------------------------------------------------------

Converter = Callable[[Any, str], Any]
# For an option whose environment precedence is per part (the connection string merges keys
# from the explicit string and the environment): (explicit value or None, environ, label).
EnvironResolver = Callable[[Any, Mapping[str, str], str], Any]


@dataclass(frozen=True)
class OptionSpec:
    """One row of the option table."""

    name: str
    convert: Converter
    doc: str
    env: Optional[str] = None
    secret: bool = False  # never put the value in a message, only its type
    from_environ: Optional[EnvironResolver] = None

    @property
    def default(self) -> Any:
        return Options.__dataclass_fields__[self.name].default


def _describe(value: Any, secret: bool = False) -> str:
    if secret:
        return type(value).__name__
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _bad(label: str, expected: str, value: Any, secret: bool = False) -> ConfigurationError:
    return ConfigurationError(f"{label} must be {expected}, got {_describe(value, secret)}")


def _items(value: Any, label: str, expected: str) -> List[Any]:
    """A list/tuple/set as a list; a lone string is refused (iterating it gives characters)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise _bad(label, expected, value)
    return list(value)


def _bool(value: Any, label: str) -> bool:
    # Strict: the string "false" is truthy, and silently reading it as True is the worst outcome.
    if not isinstance(value, bool):
        raise _bad(label, "True or False", value)
    return value


def _name(value: Any, label: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(label, "a non-empty string", value)
    return value.strip()


def _connection_string(value: Any, environ: Mapping[str, str], label: str) -> Optional[ConnectionString]:
    if value is not None and not isinstance(value, str):
        raise _bad(label, "a str like 'InstrumentationKey=<GUID>;IngestionEndpoint=https://...'", value, secret=True)
    try:
        return ConnectionString.resolve(value, environ)
    except ConfigurationError as err:
        if value is None or not value.strip():
            raise  # the message already names the environment variable
        raise ConfigurationError(f"{label}: {err}") from None


def _sampling_ratio(value: Any, label: str) -> float:
    return validate_sampling_ratio(value, label)


def _excluded_urls(value: Any, label: str) -> Tuple["re.Pattern[str]", ...]:
    expected = "a list of regular expressions searched in the URL path, e.g. ['^/health$', '/static/']"
    patterns = []
    for item in _items(value, label, expected):
        if isinstance(item, re.Pattern):
            patterns.append(item)
            continue
        if not isinstance(item, str):
            raise _bad(label, expected, item)
        try:
            patterns.append(re.compile(item))
        except re.error as err:
            raise ConfigurationError(f"{label}: {item!r} is not a valid regular expression ({err})") from None
    return tuple(patterns)


def _excluded_routes(value: Any, label: str) -> Tuple[str, ...]:
    expected = "a list of route names or path templates, e.g. ['health', '/items/{item_id}']"
    routes = _items(value, label, expected)
    for item in routes:
        if not isinstance(item, str) or not item:
            raise _bad(label, expected, item)
    return tuple(routes)


def _user_id(value: Any, label: str) -> UserIdOption:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):  # a dotted path, imported now so a typo fails at start-up
        return import_reader(value, label)
    if callable(value):
        user_id: Callable[[Any], Optional[str]] = value
        return user_id
    raise _bad(
        label,
        "True (the authenticated user's primary key), False, a callable (request) -> str or None, or its dotted path",
        value,
    )


def import_reader(path: str, option: str = "user_id") -> UserReader:
    """The callable a dotted path (``"myapp.telemetry.user_of"`` or ``"pkg.mod:func"``) names.

    Raises:
        ConfigurationError: naming ``option`` when the path does not import or is not callable.
    """
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigurationError(f"{option} must be a dotted path like 'myapp.telemetry.user_of', got {path!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as err:
        raise ConfigurationError(f"{option}: cannot import {path!r} ({err})") from None
    if not callable(target):
        raise ConfigurationError(f"{option}: {path!r} is not callable")
    return target  # type: ignore[no-any-return]


def _trusted_proxies(value: Any, label: str) -> Union[int, Tuple[IPNetwork, ...]]:
    expected = "a number of proxy hops (int >= 0) or a list of proxy networks, e.g. ['10.0.0.0/8']"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _bad(label, expected, value)
        return value
    networks = []
    for item in _items(value, label, expected):
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks.append(item)
            continue
        if not isinstance(item, str):
            raise _bad(label, expected, item)
        try:
            networks.append(ipaddress.ip_network(item.strip()))
        except ValueError:
            hint = ""
            try:
                hint = f"; did you mean '{ipaddress.ip_network(item.strip(), strict=False)}'?"
            except ValueError:
                pass
            raise ConfigurationError(
                f"{label}: {item!r} is not a network in CIDR notation like '10.0.0.0/8' or an IP address{hint}"
            ) from None
    return tuple(networks)


_LEVEL_NAMES = "DEBUG, INFO, WARNING, ERROR, CRITICAL"


def _logging_level(value: Any, label: str) -> int:
    expected = f"a logging level name ({_LEVEL_NAMES}) or an int >= 0"
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise _bad(label, expected, value)
        return value
    if isinstance(value, str):
        # getLevelName maps a registered name to its number (custom levels too), else a str.
        level = logging.getLevelName(value.strip().upper())
        if isinstance(level, int):
            return level
    raise _bad(label, expected, value)


def _logger_name(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise _bad(label, "a logger name ('' for the root logger)", value)
    return value


def _instrumentations(value: Any, label: str) -> Tuple[str, ...]:
    valid = ", ".join(SUPPORTED_INSTRUMENTATIONS)
    names: List[str] = []
    for item in _items(value, label, f"a list of instrumentation names from: {valid}"):
        if not isinstance(item, str) or item.strip().lower() not in SUPPORTED_INSTRUMENTATIONS:
            raise ConfigurationError(
                f"{label}: unknown instrumentation {_describe(item)}{_did_you_mean(item, SUPPORTED_INSTRUMENTATIONS)}; "
                f"valid names are {valid}"
            )
        name = item.strip().lower()
        if name not in names:
            names.append(name)
    return tuple(names)


def _storage_directory(value: Any, label: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise _bad(label, "a directory path (str or pathlib.Path)", value)
    return value


def _otlp_endpoint(value: Any, label: str) -> str:
    expected = "an http(s) URL of an OpenTelemetry Collector, e.g. 'http://localhost:4318'"
    if not isinstance(value, str):
        raise _bad(label, expected, value)
    try:
        parts = urlsplit(value.strip())
        parts.port  # raises ValueError on a bad port
    except ValueError:
        raise _bad(label, expected, value) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _bad(label, expected, value)
    return value.strip()


def _processors(*methods: str) -> Converter:
    def convert(value: Any, label: str) -> Tuple[Any, ...]:
        expected = f"a list of OpenTelemetry processors (objects with {' and '.join(methods)})"
        items = _items(value, label, expected)
        for item in items:
            if not all(callable(getattr(item, m, None)) for m in methods):
                raise _bad(label, expected, item)
        return tuple(items)

    return convert


def _telemetry_processors(value: Any, label: str) -> Tuple[TelemetryProcessor, ...]:
    expected = "a list of callables (envelope: dict) -> dict or None"
    items = _items(value, label, expected)
    for item in items:
        if not callable(item):
            raise _bad(label, expected, item)
    return tuple(items)


def _excluded_tasks(value: Any, label: str) -> Tuple[str, ...]:
    expected = "a list of Celery task names or fnmatch patterns, e.g. ['shop.tasks.ping', 'shop.reports.*']"
    names = _items(value, label, expected)
    for item in names:
        if not isinstance(item, str) or not item.strip():
            raise _bad(label, expected, item)
    return tuple(item.strip() for item in names)


def _credential(value: Any, label: str) -> Any:
    if not callable(getattr(value, "get_token", None)):
        raise _bad(label, "an azure-identity credential (an object with get_token), e.g. DefaultAzureCredential()", value, secret=True)
    return value


OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec("connection_string", lambda v, label: v, "Where and as whom to send; missing: telemetry off with one warning.",
               env=ENV_CONNECTION_STRING, secret=True, from_environ=_connection_string),
    OptionSpec("enabled", _bool, "False switches all telemetry off (tests, local runs)."),
    OptionSpec("role_name", _name, "ai.cloud.role; default: the app's identity (Django project, Flask app.name, FastAPI title)."),
    OptionSpec("role_instance", _name, "ai.cloud.roleInstance; default: the host name."),
    OptionSpec("sampling_ratio", _sampling_ratio, "Fraction of traces kept, 0..1, fixed-rate and trace-consistent."),
    OptionSpec("excluded_urls", _excluded_urls, "Regexes searched in the URL path (never the query); matches send nothing."),
    OptionSpec("excluded_routes", _excluded_routes, "Django URL names, Flask endpoints, FastAPI route names or templates to send nothing for."),
    OptionSpec("user_id", _user_id, "True: authenticated user's primary key; False: none; or a callable (request) -> str or None (or its dotted path)."),
    OptionSpec("trusted_proxies", _trusted_proxies, "0: client IP is the peer; N: trust the last N forwarded hops; or a list of proxy CIDRs."),
    OptionSpec("logging_level", _logging_level, "Python log records at or above this level are exported."),
    OptionSpec("logger_name", _logger_name, "The logger that gets the export handler ('' is the root logger)."),
    OptionSpec("instrumentations", _instrumentations, "Outbound dependencies to track; default: all supported ones installed."),
    OptionSpec("storage_directory", _storage_directory, "Offline storage directory; default: per-user, under the temp dir, mode 0700."),
    OptionSpec("disable_offline_storage", _bool, "True: never write to disk (read-only file systems)."),
    OptionSpec("otlp_endpoint", _otlp_endpoint, "Also export to this OpenTelemetry Collector (OTLP/HTTP)."),
    OptionSpec("span_processors", _processors("on_start", "on_end"), "User span processors, run before export."),
    OptionSpec("log_record_processors", _processors("on_emit"), "User log record processors, run before export."),
    OptionSpec("telemetry_processors", _telemetry_processors, "Callables (envelope) -> envelope or None run on every envelope; None drops it."),
    OptionSpec("credential", _credential, "An azure-identity credential for Entra ID ingestion authentication.", secret=True),
    OptionSpec("browser_sdk_loader", _bool, "True: HTML pages load the Application Insights JavaScript SDK (page views, browser errors)."),
    OptionSpec("live_metrics", _bool, "Live Metrics (QuickPulse); default: on where the connection string implies a live endpoint."),
    OptionSpec("performance_counters", _bool, "Process CPU, memory, I/O, machine CPU and memory, request and exception rates as the portal's Performance counters."),
    OptionSpec("excluded_tasks", _excluded_tasks, "Celery task names or patterns (fnmatch: 'shop.tasks.*') that send nothing."),
    OptionSpec("record_beat", _bool, "True: celery beat records each scheduled enqueue as a dependency (role: the worker's with -beat); False: beat sends nothing."),
)
_BY_NAME: Dict[str, OptionSpec] = {spec.name: spec for spec in OPTIONS}


def _did_you_mean(name: Any, candidates: Iterable[str]) -> str:
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


# --- resolution ---------------------------------------------------------------------------------


def resolve_options(
    explicit: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
    source: str = "configure()",
    *,
    spelling: Callable[[str], str] = str,
) -> Options:
    """Validate and normalise options: explicit value, else environment fallback, else default.

    Args:
        explicit: canonical names to values (``None`` counts as not set).
        environ: where the environment fallbacks are read.
        source: where the values came from, used in messages ("configure()", "settings.APPLICATION_INSIGHTS").
        spelling: labels a canonical name the way the user wrote it (the adapters' ``django_ai.options.label``, ``flask_ai.options.label``), for messages.

    Raises:
        ConfigurationError: an unknown name (with the closest valid one) or an unusable value
            (naming the option, the value's type and what is expected; secrets are never echoed).
    """
    for name in explicit:
        if name not in _BY_NAME:
            raise ConfigurationError(
                f"{source} got an unknown option {name!r}{_did_you_mean(name, _BY_NAME)}; "
                f"valid options are {', '.join(_BY_NAME)}"
            )
    values: Dict[str, Any] = {}
    for spec in OPTIONS:
        label = f"{spelling(spec.name)} in {source}"
        given = explicit.get(spec.name)
        if spec.from_environ is not None:
            values[spec.name] = spec.from_environ(given, environ, label)
        elif given is not None:
            values[spec.name] = spec.convert(given, label)
        elif spec.env and environ.get(spec.env, "").strip():
            values[spec.name] = spec.convert(environ[spec.env], spec.env)
    return Options(**values)


def did_you_mean(name: Any, candidates: Iterable[str]) -> str:
    """``"; did you mean 'X'?"`` for the closest candidate, or ``""``: for adapters' messages
    about their own spelling of option names."""
    return _did_you_mean(name, candidates)


def wrong_value(label: str, expected: str, value: Any) -> ConfigurationError:
    """The error for a value that is not what ``label`` expects, naming its type and value."""
    return _bad(label, expected, value)
