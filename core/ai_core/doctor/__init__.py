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

The work is split by job: ``sources`` (where each setting comes from), ``checks`` (the
configuration checks), ``probe`` (the one test item) and ``report`` (the printed lines).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Mapping, Optional, TextIO

from ai_core.doctor.checks import check_endpoint, check_instrumentations, check_options, check_storage
from ai_core.doctor.live import check_live_metrics
from ai_core.doctor.probe import TEST_MESSAGE, TEST_ROLE, build_test_envelope, send_test_item
from ai_core.doctor.report import FAIL, Checklist
from ai_core.doctor.sources import LoadFailed, load_config

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
    except LoadFailed as exc:
        report.check(FAIL, "configuration", str(exc))
        return 1
    report.line("reading %s" % config.described)
    options = check_options(config, report, environ)
    check_endpoint(options, report)
    check_live_metrics(options, report)
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
