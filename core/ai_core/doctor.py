"""``python -m ai_core doctor``: what is wrong with the configuration, in plain words.

It reads the options the application would use, from (in this order of preference)

* ``--connection-string CS`` (wins for the connection string only; other options still come
  from the framework below, when one is named),
* ``--django-settings dotted.module`` (or ``DJANGO_SETTINGS_MODULE``): the module is imported
  and its ``APPLICATION_INSIGHTS`` dict read; ``django.setup()`` is never called,
* ``--flask-app module:app`` (or ``FLASK_APP``): the module is imported and ``app.config`` read,
* the environment (``APPLICATIONINSIGHTS_CONNECTION_STRING``), which is also the fallback
  for a connection string the framework config does not set,

validates each option with the same code ``configure()`` uses (``ai_core.options``), inspects
the offline storage directory without creating or changing anything, lists the outbound
instrumentations that are available, then posts ONE test item (a MessageData envelope) to the
ingestion endpoint and reports the answer. Exit code: 0 when all is well, 1 when any check
failed, 2 for a usage error.

Secrets: the instrumentation key is only ever shown masked (last 4 characters), and no token
or credential is ever printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import platform
import stat
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, TextIO, Tuple

from ai_core.connection_string import ENV_CONNECTION_STRING, ENV_INSTRUMENTATION_KEY, ConnectionString, _mask
from ai_core.errors import ConfigurationError
from ai_core.options import (
    DJANGO_SETTING,
    Options,
    django_key,
    flask_key,
    options_from_django_settings,
    options_from_flask_config,
    resolve_options,
)

TEST_MESSAGE = "appinsights-otel doctor: test item"
TEST_ROLE = "ai_core-doctor"

OK, FAIL, WARN = "ok", "fail", "warn"
_UNICODE_MARKS = {OK: "\u2714", FAIL: "\u2718", WARN: "!"}
_ASCII_MARKS = {OK: "[ok]", FAIL: "[FAIL]", WARN: "[warn]"}

_RETRIABLE = (408, 500, 502, 503, 504)

HELP = "check the configuration the app would use and send one test item to the endpoint"
DESCRIPTION = """\
Reads the Application Insights configuration your application would use, says in
plain words what is wrong with it, then sends ONE test item (a trace message
"%s") to the ingestion endpoint and reports the answer.
Nothing is created or changed on disk.

Where the configuration comes from, in this order: --connection-string; then
--django-settings (or DJANGO_SETTINGS_MODULE) or --flask-app (or FLASK_APP); then the
environment (APPLICATIONINSIGHTS_CONNECTION_STRING).

Exit code: 0 all checks passed, 1 a check failed, 2 usage error.""" % TEST_MESSAGE


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``doctor`` sub-command to ``python -m ai_core``'s sub-parsers."""
    parser = commands.add_parser(
        "doctor", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--connection-string", metavar="CS",
        help="check this connection string instead of the one the app would read "
             "(useful to test a string before deploying it); it is never echoed",
    )
    framework = parser.add_mutually_exclusive_group()
    framework.add_argument(
        "--django-settings", metavar="MODULE",
        help="dotted path of the Django settings module (as in DJANGO_SETTINGS_MODULE), so the "
             "APPLICATION_INSIGHTS dict the app uses is checked; the module is imported, "
             "django.setup() is not called",
    )
    framework.add_argument(
        "--flask-app", metavar="MODULE:APP",
        help="import path of the Flask app ('module:app', 'module:create_app()' or 'module'), "
             "so the APPLICATION_INSIGHTS_* keys of app.config are checked; the module is imported",
    )
    parser.add_argument(
        "--no-send", action="store_true",
        help="only check the configuration; do not send the test item (nothing leaves the machine)",
    )
    parser.add_argument(
        "--timeout", type=_positive_float, default=10.0, metavar="SECONDS",
        help="how long to wait to connect to the endpoint and for its answer (default: 10)",
    )
    parser.set_defaults(handler=run)
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds, got %r" % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


# -- output ------------------------------------------------------------------------------------


class Checklist:
    """Prints one line per check as it is made (the send may take a while); remembers failures."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.unicode = _can_encode(out, "".join(_UNICODE_MARKS.values()))
        self.marks = _UNICODE_MARKS if self.unicode else _ASCII_MARKS
        self.failed = 0

    def check(self, status: str, label: str, text: str) -> None:
        if status == FAIL:
            self.failed += 1
        self.line("%s %s: %s" % (self.marks[status], label, text))

    def note(self, text: str) -> None:
        """An indented detail under the previous check (a hint, a value)."""
        self.line("    " + text)

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _can_encode(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True


# -- reading the configuration ----------------------------------------------------------------


@dataclass
class Config:
    """What the app would be configured with, before validation."""

    source: str  # where options are read: "settings.APPLICATION_INSIGHTS", "app.config", "environment"
    spelling: Callable[[str], str]  # canonical name -> how the user wrote it there
    described: str  # one line for the user: which module/app was read
    # canonical name -> value, per key as the framework spelled it: (key, value, error)
    entries: List[Tuple[str, Any, Optional[str]]] = field(default_factory=list)
    cli_connection_string: Optional[str] = None


class _LoadFailed(Exception):
    """The framework module could not be imported or read; the text says why."""


def _import_error_text(exc: BaseException) -> str:
    text = "%s: %s" % (type(exc).__name__, exc)
    return text if len(text) <= 300 else text[:297] + "..."


def _import_module(dotted: str, what: str) -> Any:
    if not dotted or not all(part.isidentifier() for part in dotted.split(".")):
        raise _LoadFailed("%r is not a dotted module path like 'mysite.settings'" % dotted)
    try:
        return importlib.import_module(dotted)
    except ConfigurationError as exc:
        raise _LoadFailed("importing %s %s raised ConfigurationError: %s" % (what, dotted, exc)) from None
    except BaseException as exc:  # SystemExit, ImportError, a bug in the settings: all reported
        if isinstance(exc, KeyboardInterrupt):
            raise
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name and dotted.startswith(exc.name):
            hint = " (run the doctor from the project directory, or add it to PYTHONPATH)"
        raise _LoadFailed("cannot import %s %s: %s%s" % (what, dotted, _import_error_text(exc), hint)) from None


def _django_entries(module: Any) -> List[Tuple[str, Any, Optional[str]]]:
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
            raise _LoadFailed("%r: after ':' expected a name like 'app' or a factory call like 'create_app()'" % spec)
        obj = getattr(module, name, None)
        if obj is None:
            raise _LoadFailed("module %s has no attribute %r" % (module_name, name))
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
            raise _LoadFailed(
                "module %s has no 'app' or 'application' and no create_app(): name it, e.g. "
                "--flask-app %s:my_app" % (module_name, module_name)
            )
    if not isinstance(getattr(obj, "config", None), Mapping):
        raise _LoadFailed("%s is not a Flask app (it has no app.config mapping)" % spec)
    return obj


def _call_factory(factory: Callable[[], Any], what: str) -> Any:
    try:
        return factory()
    except ConfigurationError as exc:
        raise _LoadFailed("%s raised ConfigurationError: %s" % (what, exc)) from None
    except Exception as exc:
        raise _LoadFailed("%s failed: %s" % (what, _import_error_text(exc))) from None


def load_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    """The options the app would read, per the precedence of the module docstring."""
    django_module = args.django_settings
    flask_app = args.flask_app
    origin = "--django-settings" if django_module else "--flask-app" if flask_app else ""
    if not django_module and not flask_app:
        if environ.get("DJANGO_SETTINGS_MODULE", "").strip():
            django_module, origin = environ["DJANGO_SETTINGS_MODULE"].strip(), "DJANGO_SETTINGS_MODULE"
        elif environ.get("FLASK_APP", "").strip():
            flask_app, origin = environ["FLASK_APP"].strip(), "FLASK_APP"
    if django_module:
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


# -- checks ------------------------------------------------------------------------------------


def _connection_string_source(config: Config, framework_value: Any, environ: Mapping[str, str]) -> str:
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


def check_options(config: Config, report: Checklist, environ: Mapping[str, str]) -> Options:
    """Validate every option on its own (all problems are listed, not just the first); returns
    the resolved options without the bad ones (connection_string None when it is unusable)."""
    explicit: Dict[str, Any] = {}
    for name, value, error in config.entries:
        if error is not None:
            report.check(FAIL, "options", error)
        else:
            explicit[name] = value

    # The connection string: explicit argument, else the framework's, else the environment.
    framework_cs = explicit.pop("connection_string", None)
    if config.cli_connection_string is not None:
        cs_value, cs_where, cs_spelling = config.cli_connection_string, "the command line", (lambda n: "--connection-string")
    else:
        cs_value, cs_where, cs_spelling = framework_cs, config.source, config.spelling
    connection_string: Optional[ConnectionString] = None
    cs_failed = False
    try:
        connection_string = resolve_options(
            {"connection_string": cs_value}, environ, source=cs_where, spelling=cs_spelling
        ).connection_string
    except ConfigurationError as exc:
        cs_failed = True
        report.check(FAIL, "connection string", str(exc))
    else:
        if connection_string is None:
            report.check(
                FAIL, "connection string",
                "not set, so the app sends no telemetry at all: set %s, or %s" % (
                    ENV_CONNECTION_STRING,
                    "%s in %s" % (config.spelling("connection_string"), config.source)
                    if config.source != "the environment" else "pass connection_string= to configure()",
                ),
            )
        else:
            report.check(OK, "connection string", "from %s (key %s)" % (
                _connection_string_source(config, cs_value, environ), _mask(connection_string.instrumentation_key)))

    # Every other option, one by one, with the user's own spelling in the message.
    good: Dict[str, Any] = {}
    for name, value in explicit.items():
        try:
            resolve_options({name: value}, {}, source=config.source, spelling=config.spelling)
        except ConfigurationError as exc:
            report.check(FAIL, name, str(exc))
        else:
            good[name] = value
    options = resolve_options(good, {}, source=config.source, spelling=config.spelling)
    if connection_string is not None:
        options = _replace(options, connection_string=connection_string)

    entry_errors = sum(1 for _, _, error in config.entries if error is not None)
    given = [name for name, _, error in config.entries if error is None]
    if given and not entry_errors and not cs_failed and len(good) == len(explicit):
        report.check(OK, "options", "%d set in %s, all valid (%s)" % (
            len(given), config.source, ", ".join(config.spelling(n) for n in given)))
    if options.enabled is False:
        report.check(WARN, "enabled", "%s is False: the app sends no telemetry until it is True" % config.spelling("enabled"))
    if options.sampling_ratio < 1.0:
        report.check(WARN, "sampling_ratio", "%g: only %g%% of traces are kept (fixed rate)" % (
            options.sampling_ratio, options.sampling_ratio * 100))
    return options


def _replace(options: Options, **changes: Any) -> Options:
    return dataclasses.replace(options, **changes)


def check_endpoint(options: Options, report: Checklist) -> None:
    cs = options.connection_string
    if cs is None:
        return
    report.check(OK, "ingestion endpoint", "%s (track URL %s)" % (cs.ingestion_endpoint, cs.track_url))
    if cs.track_url.lower().startswith("http://") and not _is_loopback(cs.ingestion_endpoint):
        report.note("plain http: telemetry (and an Entra ID token, which is refused over http) would "
                    "travel unencrypted; real ingestion endpoints are https")
    if options.credential is not None:
        from ai_core.delivery.auth import scope_for

        if cs.track_url.lower().startswith("http://"):
            report.check(FAIL, "authentication", "a credential is set but the endpoint is plain http: "
                         "the bearer token is never sent over http, so every batch would fail")
        else:
            report.check(OK, "authentication", "Entra ID via %s (scope %s)" % (
                type(options.credential).__name__, scope_for(cs.aad_audience)))


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def storage_directory_for(options: Options) -> Optional[str]:
    """The directory the app's exporters would use (see exporters.build_sender)."""
    from ai_core.delivery.storage import default_storage_directory

    if options.storage_directory:
        return options.storage_directory
    cs = options.connection_string
    if cs is None:
        return None
    # Keyed by key AND endpoint, exactly as ai_core.exporters.build_sender does.
    return default_storage_directory("%s;%s" % (cs.instrumentation_key, cs.ingestion_endpoint))


def check_storage(options: Options, report: Checklist) -> None:
    """Inspect the offline storage directory; never create or change it."""
    from ai_core.delivery import storage as st

    label = "offline storage"
    if options.disable_offline_storage:
        report.check(OK, label, "disabled (disable_offline_storage=True): nothing is written to disk, "
                     "items that cannot be sent are lost")
        return
    directory = storage_directory_for(options)
    if directory is None:
        report.check(WARN, label, "not checked: the default directory depends on the connection string")
        return
    path = os.path.abspath(directory)
    parent = os.path.dirname(path)
    # The per-user level of the default layout sits in the shared temp dir: same rules as the leaf.
    to_check = [parent] if os.path.basename(parent).startswith(st._PER_USER_PREFIX) else []
    to_check.append(path)
    for candidate in to_check:
        if os.path.lexists(candidate):
            refusal = st._classify(candidate)
            if refusal is not None:
                report.check(FAIL, label, "refused: %s" % refusal)
                return
    if not os.path.lexists(path):
        existing = parent
        while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
            existing = os.path.dirname(existing)
        if os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK):
            report.check(OK, label, "%s (does not exist yet: created 0700 when first needed; %s is writable)"
                         % (path, existing))
        else:
            report.check(FAIL, label, "%s does not exist and cannot be created: %s is not a writable "
                         "directory; set storage_directory to a directory of your own, or "
                         "disable_offline_storage=True on a read-only file system" % (path, existing))
        return
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if not os.access(path, os.W_OK | os.X_OK):
        report.check(FAIL, label, "refused: %s is not writable (mode %04o); items that cannot be sent "
                     "would be lost" % (path, mode))
        return
    details = ["writable", "%04o" % mode]
    if mode & 0o077:
        details[-1] += ", opened to others: the app tightens it to 0700"
    else:
        try:
            blobs, size = _count_blobs(path)  # read only: the doctor changes nothing on disk
            details.append("%d blob%s waiting%s" % (
                blobs, "" if blobs == 1 else "s", " (%s)" % _size_text(size) if blobs else ""))
        except OSError as exc:
            report.check(FAIL, label, "refused: %s" % exc)
            return
    report.check(OK, label, "%s (%s)" % (path, ", ".join(details)))


def _count_blobs(path: str) -> "tuple[int, int]":
    """Stored batches (leased or not) and their total size, by listing only."""
    blobs = size = 0
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and (".blob" in entry.name) and not entry.name.endswith(".tmp"):
                blobs += 1
                size += entry.stat(follow_symlinks=False).st_size
    return blobs, size


def _size_text(size: int) -> str:
    if size < 1024:
        return "%d bytes" % size
    if size < 1024 * 1024:
        return "%.1f KiB" % (size / 1024)
    return "%.1f MiB" % (size / (1024 * 1024))


def check_instrumentations(options: Options, report: Checklist) -> None:
    from ai_core.instrumentations import KNOWN_INSTRUMENTATIONS, _installed

    available, missing = [], []
    for name, (library, module, _) in KNOWN_INSTRUMENTATIONS.items():
        (available if _installed(library) and _installed(module) else missing).append(name)
    wanted = list(options.instrumentations) if options.instrumentations is not None else None
    if wanted is not None:
        absent = [n for n in wanted if n not in available]
        if absent:
            report.check(FAIL, "instrumentations", "asked for but not installed: %s (pip install %s)" % (
                ", ".join(absent), " ".join("opentelemetry-instrumentation-%s" % n for n in absent)))
        enabled = [n for n in wanted if n in available]
        report.check(OK if enabled or not wanted else WARN, "instrumentations enabled",
                     ", ".join(enabled) or "none (instrumentations is empty: no outbound dependencies tracked)")
        return
    report.check(OK if available else WARN, "instrumentations available",
                 ", ".join(available) or "none: outbound calls are not tracked")
    if missing:
        report.note("not installed (skipped quietly): %s" % ", ".join(missing))


# -- the test item -----------------------------------------------------------------------------


def build_test_envelope(options: Options) -> Dict[str, Any]:
    from ai_core.envelopes.common import new_envelope, resource_tags

    cs = options.connection_string
    assert cs is not None
    tags = resource_tags(None)  # device tags and ai.internal.sdkVersion, as every envelope has
    instance = options.role_instance or platform.node()
    tags.update({
        "ai.cloud.role": TEST_ROLE,
        "ai.cloud.roleInstance": instance,
        "ai.internal.nodeName": instance,
        "ai.operation.id": uuid.uuid4().hex,
    })
    data = {
        "ver": 2,
        "message": TEST_MESSAGE,
        "severityLevel": 1,
        "properties": {"sent by": "python -m ai_core doctor", "host": platform.node()},
    }
    return new_envelope("Message", cs.instrumentation_key, tags, time.time_ns(), "MessageData", data)


def send_test_item(options: Options, report: Checklist, timeout: float) -> None:
    from ai_core.delivery.encode import encode_batch
    from ai_core.delivery.transport import Transport

    cs = options.connection_string
    if cs is None:
        report.line("test item not sent: there is no usable connection string")
        return
    token_provider = None
    if options.credential is not None:
        from ai_core.delivery.auth import BearerTokenProvider

        token_provider = BearerTokenProvider(options.credential, cs.aad_audience)
    transport = Transport(cs.track_url, connect_timeout=timeout, read_timeout=timeout,
                          token_provider=token_provider)
    via = " through proxy %s" % transport.proxy if transport.proxy else ""
    report.line("sending one test item to %s%s ..." % (cs.track_url, via))
    try:
        response = transport.post(encode_batch([build_test_envelope(options)]))
        final_url = transport.track_url
    finally:
        transport.close()
    describe_response(response, cs.track_url, final_url, options, report)


def _messages(errors: List[Dict[str, Any]]) -> str:
    seen: List[str] = []
    for error in errors:
        message = str(error.get("message") or "").strip()
        if message and message not in seen:
            seen.append(message)
    text = "; ".join(seen)
    return text if len(text) <= 500 else text[:497] + "..."


def describe_response(response: Any, url: str, final_url: str, options: Options, report: Checklist) -> None:
    status = response.status
    messages = _messages(response.errors)
    retry = " (Retry-After: %s)" % response.retry_after if response.retry_after else ""
    with_credential = options.credential is not None
    if status == 0 and (response.error or "").startswith(("refusing to send", "no Entra ID token")):
        report.check(FAIL, "test item not sent", response.error)  # never reached the network
        return
    if status == 0:
        report.check(FAIL, "could not reach %s" % final_url, response.error or "no answer")
        report.note("check the IngestionEndpoint in the connection string, DNS, firewalls and "
                    "HTTPS_PROXY/NO_PROXY; the app keeps such items in offline storage and retries")
        return
    if final_url != url and status not in (307, 308):
        report.check(WARN, "redirected", "the endpoint moved to %s: update IngestionEndpoint in the "
                     "connection string" % final_url.rsplit("/v2", 1)[0])
    if status in (200, 206) and not response.errors and response.items_accepted >= 1:
        report.check(OK, "endpoint answered %d" % status, "%d item accepted" % response.items_accepted)
        return
    answered = "endpoint answered %d" % status
    if status in (200, 206):
        report.check(FAIL, answered, "%d of %d item accepted%s" % (
            response.items_accepted, response.items_received or 1, ": " + messages if messages else ""))
    elif status in (307, 308):
        report.check(FAIL, answered, "redirect not followed: %s" % (response.error or response.location or "no Location"))
    elif status == 400:
        report.check(FAIL, answered, messages or "the endpoint rejected the test item")
        report.note("if it names the instrumentation key: the key is not known to this endpoint; "
                    "copy the connection string again from the resource's Overview page")
    elif status == 401:
        report.check(FAIL, answered, messages or "not authorized")
        if with_credential:
            report.note("the Entra ID token was refused: check the credential's tenant and the "
                        "AADAudience of the connection string")
        else:
            report.note("the resource accepts Entra ID (AAD) authentication only (local "
                        "authentication disabled): set the credential option to an azure-identity "
                        "credential, e.g. DefaultAzureCredential()")
    elif status == 403:
        report.check(FAIL, answered, messages or "forbidden")
        if with_credential:
            report.note("the identity is not allowed to publish: give it the 'Monitoring Metrics "
                        "Publisher' role on the Application Insights resource")
        else:
            report.note("the resource refuses instrumentation-key access (Entra ID only?) or the "
                        "endpoint belongs to another region/resource: check the connection string, "
                        "or set the credential option")
    elif status == 404:
        report.check(FAIL, answered, messages or "not found")
        report.note("IngestionEndpoint should be the endpoint's root, e.g. "
                    "https://<region>.in.applicationinsights.azure.com/ (the app adds /v2.1/track)")
    elif status == 429:
        report.check(FAIL, answered, "throttled: too many requests%s%s" % (retry, ": " + messages if messages else ""))
        report.note("the app backs off and keeps items in offline storage; lasting throttling "
                    "means more telemetry than the resource accepts (consider sampling_ratio)")
    elif status == 439:
        report.check(FAIL, answered, "daily quota exceeded%s%s" % (retry, ": " + messages if messages else ""))
        report.note("the resource's daily cap is reached; data is refused until it resets: raise it "
                    "under 'Usage and estimated costs' > 'Daily cap'")
    elif status in _RETRIABLE:
        report.check(FAIL, answered, "the endpoint is having trouble%s%s" % (retry, ": " + messages if messages else ""))
        report.note("a transient error: the app retries and keeps items in offline storage; run "
                    "the doctor again in a while")
    elif status == 413:
        report.check(FAIL, answered, messages or "payload too large")
    else:
        report.check(FAIL, answered, messages or "unexpected answer")


# -- the command -------------------------------------------------------------------------------


def run(args: argparse.Namespace, out: Optional[TextIO] = None, environ: Optional[Mapping[str, str]] = None) -> int:
    """The ``doctor`` command; returns the exit code (0 all well, 1 a check failed)."""
    out = out if out is not None else sys.stdout
    environ = environ if environ is not None else os.environ
    report = Checklist(out)
    if not report.unicode and hasattr(out, "reconfigure"):
        try:  # a path or message with non-ASCII text must not crash the report
            out.reconfigure(errors="backslashreplace")
        except Exception:
            pass
    report.line("appinsights-otel doctor")
    try:
        config = load_config(args, environ)
    except _LoadFailed as exc:
        report.check(FAIL, "configuration", str(exc))
        return 1
    report.line("reading %s" % config.described)
    options = check_options(config, report, environ)
    check_endpoint(options, report)
    check_storage(options, report)
    check_instrumentations(options, report)
    if args.no_send:
        report.line("test item not sent (--no-send)")
    else:
        send_test_item(options, report, args.timeout)
    if report.failed:
        report.line("%d problem%s found" % (report.failed, "" if report.failed == 1 else "s"))
        return 1
    report.line("all good")
    return 0


# Names a tool (or a test) may want, besides the command itself.
__all__ = ["TEST_MESSAGE", "TEST_ROLE", "add_parser", "build_test_envelope", "load_config", "run"]
