"""``instrument_celery``: Celery tasks as requests, their enqueues as dependencies, one pipeline.

What a user gets is in the README ("Celery"). How it is built:

* Task runs and enqueues as spans: :mod:`ai_core.tasks.task_spans`.
* The pipeline: where one exists (the web app configured first), the same options must
  agree with it; in a worker it is built when the worker starts (``celeryd_init`` /
  ``worker_init``, or Django's ``ready()`` while the worker loads its task modules) with
  the worker's role; elsewhere (a script that only enqueues) nothing is built. The worker's
  process life (fork, logging, shutdown, role instance per process):
  :mod:`ai_core.tasks.worker_process`.
* ``celery beat`` (found by the ``celery`` command line's click context, which exists from the
  ``-A`` import on) builds nothing and tells ``django_ai`` to set up nothing, unless
  ``record_beat`` asks for its enqueues: then a pipeline under beat's role. An embedded beat
  (``celery worker -B``), a child process of the worker, stops sending what it inherited.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from typing import Any, Optional

from ai_core.configure import configure_resolved, current
from ai_core.errors import ConfigurationError
from ai_core.options import APP_OPTIONS, Options, resolve_options
from ai_core.tasks import task_spans
from ai_core.tasks.rules import beat_role_default, worker_role_default
from ai_core.telemetry import Telemetry

__all__ = ["instrument_celery", "instrument_celery_app", "celery_worker_starting", "celery_command",
           "quiet_beat", "beat_started"]

logger = logging.getLogger("ai_core")

_APP_MARK = "_ai_core_tasks_options"


class _Process:
    """What this process knows about its Celery apps: one per process, like the pipeline."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.options: Optional[Options] = None  # the first app's process options
        self.role_default: Optional[str] = None
        self.beat_role_default: Optional[str] = None
        self.record_beat = False  # the record_beat option of the first Celery app
        self.quiet = False  # celery beat, not asked to record: this process sends nothing
        self.wired = False
        self.worker: Optional[Telemetry] = None  # the pipeline a worker (or a recording beat) started


_process = _Process()


def instrument_celery(celery_app: Any, **options: Any) -> None:
    """Record the tasks of ``celery_app`` (Flask and FastAPI apps; Django does it by itself).

    Call it where the Celery app is created (the module the web app and the worker both
    import). ``options`` are the option table's (README, "Options"), the same as the web
    app's: where the web app configured telemetry first, they must agree with it (else
    ``ConfigurationError``, as a second ``configure()``). ``excluded_tasks`` is this Celery
    app's own. In a worker, telemetry starts when the worker does, with the role
    ``OTEL_SERVICE_NAME`` if set, else ``role_name`` (the web app's) plus ``-worker``, else the
    Celery app's name.

    Raises:
        ConfigurationError: a bad option, or options that disagree with the running pipeline.
    """
    opts = resolve_options(options, source="instrument_celery()")
    instrument_celery_app(celery_app, opts)


def instrument_celery_app(celery_app: Any, opts: Options, web_role: Optional[str] = None) -> None:
    """:func:`instrument_celery` for options an adapter already resolved (``django_ai``).

    ``web_role``: the web app's identity where the worker knows it (the Django project);
    the worker's role defaults to it plus ``-worker``.
    """
    if opts.instrumentations is not None and "celery" not in opts.instrumentations:
        logger.info("Application Insights: Celery tasks are not recorded ('celery' is not in instrumentations)")
        return
    process_opts = _process_options(opts)
    main = getattr(celery_app, "main", None)
    with _process.lock:
        previous = getattr(celery_app, _APP_MARK, None)
        if previous is not None and previous != opts:
            raise ConfigurationError(
                "instrument_celery() was already called for this Celery app with different options (%s)"
                % ", ".join(previous.differences(opts) or ("unknown",))
            )
        running = current()
        if running is not None and _process_options(running.options) != process_opts:
            configure_resolved(process_opts)  # raises, naming the options that disagree
        if _process.options is None:
            _process.options = process_opts
            # role_name names the web app (one options dict serves both processes): its
            # worker is role_name plus "-worker", so the map shows web -> worker. The
            # environment (OTEL_SERVICE_NAME, set per deployment) still names it exactly.
            _process.role_default = worker_role_default(opts.role_name or web_role, main if isinstance(main, str) else None)
            _process.beat_role_default = beat_role_default(opts.role_name or web_role, main if isinstance(main, str) else None)
            _process.record_beat = task_spans.STATE.record_beat = opts.record_beat
        task_spans.STATE.exclusion.add(opts.excluded_tasks)
        try:
            setattr(celery_app, _APP_MARK, opts)
        except Exception:  # an app object that refuses attributes still gets its tasks recorded
            pass
        if not _process.wired:
            task_spans.wire()
            from ai_core.tasks.worker_process import wire_worker_signals

            wire_worker_signals()
            from ai_core.tasks.result_backend import mark_result_backend_clients

            mark_result_backend_clients()
            _process.wired = True
    if celery_command() == "beat":
        if not _process.record_beat:
            _process.quiet = True  # nothing is built; django_ai sets nothing up (quiet_beat)
        elif celery_worker_starting():  # Django: before the web set-up, so the role is beat's
            start_beat_pipeline()
        return  # a Flask or FastAPI app's beat: when beat starts (beat_init)
    if celery_worker_starting():
        start_worker_pipeline()


def quiet_beat() -> bool:
    """True in a ``celery beat`` process that ``record_beat`` does not ask to record: it sends
    nothing at all, so a web set-up in it (Django's ``ready()``) is to be skipped."""
    return _process.quiet


def celery_command() -> Optional[str]:
    """``"worker"`` or ``"beat"``: the ``celery`` command this process runs, from its click
    context (there from the ``-A`` module's import on: the subcommand is known before the
    ``celery`` group runs); None in any other process (a web server, a script)."""
    if "celery" not in sys.modules or "click" not in sys.modules:
        return None
    try:
        import click

        ctx = click.get_current_context(silent=True)
        if ctx is None:
            return None
        root = ctx.find_root()
        if not str(getattr(getattr(root.command, "callback", None), "__module__", "")).startswith("celery."):
            return None  # another program's command line (flask run, a script's own click)
        while ctx is not None:
            for name in (getattr(ctx.command, "name", None), ctx.invoked_subcommand):
                if name in ("worker", "beat"):
                    return name
            ctx = ctx.parent
    except Exception:
        return None
    return None


def _process_options(opts: Options) -> Options:
    """The options of the process's pipeline: without those of one app (README, "Options")."""
    return dataclasses.replace(opts, **{name: Options.__dataclass_fields__[name].default for name in APP_OPTIONS})


def celery_worker_starting() -> bool:
    """Whether this process is a Celery worker (or beat, whose loader does the same) being set
    up: its loader is importing the task modules, and with them Django's settings and apps."""
    import sys

    if "celery" not in sys.modules:
        return False
    try:
        from celery import current_app

        return bool(getattr(current_app._get_current_object().loader, "worker_initialized", False))
    except Exception:
        return False


def start_worker_pipeline() -> Optional[Telemetry]:
    """Build (once) the worker's pipeline with the worker's role; None when telemetry is off."""
    if celery_command() == "beat":  # a beat whose loader imports the Django settings
        return start_beat_pipeline()
    with _process.lock:
        if _process.worker is not None and not _process.worker.is_shut_down:
            return _process.worker
        if _process.options is None:
            return None
        telemetry = configure_resolved(_process.options, _process.role_default)
        _process.worker = telemetry
    from ai_core.tasks.worker_process import worker_started

    worker_started(telemetry)
    return telemetry if telemetry.enabled else None


def start_beat_pipeline() -> Optional[Telemetry]:
    """``celery beat``: a pipeline under beat's role where ``record_beat`` asks for one (the
    worker's, with ``-beat`` for ``-worker``; the pipeline an embedded beat inherited from its
    worker takes that role); else nothing, and this process is quiet."""
    with _process.lock:
        if _process.options is None:
            return None
        if not _process.record_beat:
            _process.quiet = True
            return None
        telemetry = configure_resolved(_process.options, _process.beat_role_default)
        telemetry.use_role_defaults(name=_process.beat_role_default)
        _process.worker = telemetry
    from ai_core.tasks.worker_process import worker_started

    worker_started(telemetry)
    return telemetry if telemetry.enabled else None


def beat_started(owns_process: bool) -> None:
    """``celery beat`` starts its scheduler (``beat_init``; in an embedded beat's own process
    too). ``owns_process``: beat runs in the process's main thread (not a worker's thread)."""
    task_spans.STATE.in_beat = True
    if not owns_process:
        return
    recording = start_beat_pipeline()
    if recording is not None:
        # An embedded beat's process is ended by SIGTERM (Celery resets its handler there):
        # what it recorded goes out first.
        recording.install_exit_hooks()
        return
    if not _process.quiet:
        return
    # Quiet: a pipeline this process already has (an embedded beat's, inherited from its
    # worker; one a web set-up built when beat imported the app's module) sends nothing more,
    # not even its metrics at exit; beat's enqueues make no span, and its Redis calls are the
    # broker's.
    from opentelemetry import context as otel_context

    from ai_core.broker_traffic import with_broker_traffic

    for tel in {id(t): t for t in (_process.worker, current()) if t is not None}.values():
        tel.abandon()
    otel_context.attach(with_broker_traffic(True))  # for the life of the beat process


def worker_pipeline() -> Optional[Telemetry]:
    """The pipeline this worker started, if any and alive (None in a quiet beat)."""
    tel = _process.worker
    if _process.quiet:
        return None
    return tel if tel is not None and not tel.is_shut_down and tel.enabled else None
