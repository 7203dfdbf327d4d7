"""The doctor's checks of the configuration: options, endpoint, offline storage, instrumentations."""

from __future__ import annotations

import dataclasses
import os
import stat
from typing import Any, Dict, Mapping, Optional

from ai_core.connection_string import ENV_CONNECTION_STRING, ConnectionString, mask_instrumentation_key
from ai_core.doctor.report import FAIL, OK, WARN, Checklist
from ai_core.doctor.sources import Config, connection_string_source
from ai_core.errors import ConfigurationError
from ai_core.live_metrics.endpoint import is_loopback_url
from ai_core.options import Options, resolve_options


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
                connection_string_source(config, cs_value, environ), mask_instrumentation_key(connection_string.instrumentation_key)))

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
        options = dataclasses.replace(options, connection_string=connection_string)

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


def check_endpoint(options: Options, report: Checklist) -> None:
    cs = options.connection_string
    if cs is None:
        return
    report.check(OK, "ingestion endpoint", "%s (track URL %s)" % (cs.ingestion_endpoint, cs.track_url))
    if cs.track_url.lower().startswith("http://") and not is_loopback_url(cs.ingestion_endpoint):
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


def storage_directory_for(options: Options) -> Optional[str]:
    """The directory the app's exporters would use (see exporters.build_sender)."""
    from ai_core.delivery.storage import resource_storage_directory

    if options.storage_directory:
        return options.storage_directory
    cs = options.connection_string
    if cs is None:
        return None
    return resource_storage_directory(cs.instrumentation_key, cs.ingestion_endpoint)


def check_storage(options: Options, report: Checklist) -> None:
    """Inspect the offline storage directory; never create or change it."""
    from ai_core.delivery.storage import classify_directory, count_blobs, private_levels

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
    for candidate in private_levels(path):
        if os.path.lexists(candidate):
            refusal = classify_directory(candidate)
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
            blobs, size = count_blobs(path)  # read only: the doctor changes nothing on disk
            details.append("%d blob%s waiting%s" % (
                blobs, "" if blobs == 1 else "s", " (%s)" % _size_text(size) if blobs else ""))
        except OSError as exc:
            report.check(FAIL, label, "refused: %s" % exc)
            return
    report.check(OK, label, "%s (%s)" % (path, ", ".join(details)))


def _size_text(size: int) -> str:
    if size < 1024:
        return "%d bytes" % size
    if size < 1024 * 1024:
        return "%.1f KiB" % (size / 1024)
    return "%.1f MiB" % (size / (1024 * 1024))


def check_instrumentations(options: Options, report: Checklist) -> None:
    from ai_core.instrumentations import KNOWN_INSTRUMENTATIONS, instrumentation_available

    available, missing = [], []
    for name in KNOWN_INSTRUMENTATIONS:
        (available if instrumentation_available(name) else missing).append(name)
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
