"""A Celery worker's process life: start, logging set-up, child exit and shutdown.

The order of Celery's signals in a worker (README, "Celery"): the app's modules are imported
(``instrument_celery`` runs, Django's ``ready()`` too), ``celeryd_init`` and ``worker_init``
(the pipeline starts here, with the worker's role), then Celery replaces the root logger's
handlers (``worker_hijack_root_logger``) and sends ``after_setup_logger`` (our handler goes
back), then the pool forks its children (``worker_process_init``: the export thread starts
again lazily in each, on its first item). A prefork child exits through ``os._exit``, so
``atexit`` never runs there: ``worker_process_shutdown`` flushes, which also covers a child
recycled by ``--max-tasks-per-child``. ``worker_shutdown`` (warm or cold) flushes and stops.

Role instance (README, "Celery"): the worker's node name once the worker knows it
(``celeryd_init``), and in each prefork child (``worker_process_init``) the node name plus the
child's pool index, which a replacement child takes over; the ``role_instance`` option and
the environment still win (``Telemetry.use_role_defaults``). ``beat_init`` (standalone or
embedded beat): :func:`ai_core.tasks.celery_setup.beat_started`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from ai_core.tasks.rules import worker_instance
from ai_core.telemetry import Telemetry

__all__ = ["wire_worker_signals", "worker_started"]

logger = logging.getLogger("ai_core")

CHILD_FLUSH_S = 5.0  # a child being recycled or stopped: what it recorded goes out first
STOP_FLUSH_S = 5.0

# Celery logs every failed task again, with its traceback, on this logger: the failure is
# already the exception item of the task's request (one exception per failure).
_TASK_TRACE_LOGGER = "celery.app.trace"
# Beat's own logger: an embedded beat logs its start before it can be told apart from the
# worker, and the worker logs the beat's stop; beat's internals unless record_beat asks.
_BEAT_LOGGER = "celery.beat"
_TASK_LOGGER = "celery.task"  # parent of get_task_logger() loggers, which do not propagate

_main_thread_marked = False


def wire_worker_signals() -> None:
    from celery import signals

    for signal, receiver in (
        (signals.celeryd_init, _on_worker_init),
        (signals.worker_init, _on_worker_init),
        (signals.after_setup_logger, _on_logging_set_up),
        (signals.after_setup_task_logger, _on_task_logging_set_up),
        (signals.worker_process_init, _on_child_start),
        (signals.worker_process_shutdown, _on_child_exit),
        (signals.worker_shutdown, _on_worker_stop),
        (signals.beat_init, _on_beat_start),
    ):
        signal.connect(receiver, weak=False, dispatch_uid="ai_core.tasks.%s" % receiver.__name__)


def worker_started(telemetry: Telemetry) -> None:
    """The worker's pipeline exists: keep the broker's traffic and Celery's re-logged
    failures out of it."""
    global _main_thread_marked
    if not telemetry.enabled:
        return
    handler = telemetry.log_handler
    if handler is not None and _worker_records not in handler.filters:
        handler.addFilter(_worker_records)
    if not _main_thread_marked and threading.current_thread() is threading.main_thread():
        # The worker's main thread runs the consumer: polling, acknowledging, restoring
        # messages. Everything it sends to the broker is the queue's, not the app's; task
        # runs clear the mark (ai_core.tasks.celery_setup).
        from opentelemetry import context as otel_context

        from ai_core.broker_traffic import with_broker_traffic

        otel_context.attach(with_broker_traffic(True))  # for the life of the worker process
        _main_thread_marked = True


def _worker_records(record: logging.LogRecord) -> bool:
    """Not a failure Celery logs again, not beat's internals (unless ``record_beat``)."""
    if record.name == _TASK_TRACE_LOGGER:
        return not record.exc_info
    if record.name == _BEAT_LOGGER:
        from ai_core.tasks.task_spans import STATE

        return STATE.record_beat
    return True


def _pipeline() -> Optional[Telemetry]:
    from ai_core.tasks.celery_setup import worker_pipeline

    return worker_pipeline()


_node_name: Optional[str] = None  # the worker's, as Celery shows it (celery@web1); a child inherits it


def _on_worker_init(sender: Any = None, **_: Any) -> None:
    """``celeryd_init`` (sender: the node name) and ``worker_init`` (sender: the worker)."""
    global _node_name
    try:
        from ai_core.tasks.celery_setup import start_worker_pipeline

        tel = start_worker_pipeline()
        node = sender if isinstance(sender, str) else getattr(sender, "hostname", None)
        if isinstance(node, str) and node:
            _node_name = node
        if tel is not None and _node_name:
            tel.use_role_defaults(instance=worker_instance(_node_name))
    except Exception:  # a worker must start whatever telemetry thinks
        logger.warning("Application Insights: telemetry could not start in this Celery worker", exc_info=True)


def _on_child_start(sender: Any = None, **_: Any) -> None:
    """``worker_process_init``: a prefork child (sender: the node name) is its pool slot's
    instance; the solo pool sends it in the worker itself, which stays the node."""
    tel = _pipeline()
    if tel is None:
        return
    try:
        from celery.utils.log import current_process_index

        node = sender if isinstance(sender, str) and sender else _node_name
        if node:
            tel.use_role_defaults(instance=worker_instance(node, current_process_index()))
    except Exception:
        logger.debug("Application Insights: the child's role instance could not be set", exc_info=True)


def _on_beat_start(**_: Any) -> None:
    try:
        from ai_core.tasks.celery_setup import beat_started

        beat_started(owns_process=threading.current_thread() is threading.main_thread())
    except Exception:  # beat must start whatever telemetry thinks
        logger.debug("Application Insights: preparing celery beat failed", exc_info=True)


def _on_logging_set_up(logger: Any = None, **_: Any) -> None:
    """Celery emptied the root logger's handlers: put ours back where the options say."""
    tel = _pipeline()
    if tel is None or tel.log_handler is None:
        return
    target = logging.getLogger(getattr(tel.options, "logger_name", "") or None)
    if tel.log_handler not in target.handlers:
        target.addHandler(tel.log_handler)


def _on_task_logging_set_up(logger: Any = None, **_: Any) -> None:
    """``get_task_logger()`` loggers stop at ``celery.task``: its records reach ours there."""
    tel = _pipeline()
    if tel is None or tel.log_handler is None:
        return
    task_logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(_TASK_LOGGER)
    if not task_logger.propagate and tel.log_handler not in task_logger.handlers:
        task_logger.addHandler(tel.log_handler)


def _on_child_exit(**_: Any) -> None:
    tel = _pipeline()
    if tel is None:
        return
    try:
        tel.force_flush(CHILD_FLUSH_S)
    except Exception:
        logger.debug("Application Insights: flush at child exit failed", exc_info=True)


def _on_worker_stop(**_: Any) -> None:
    tel = _pipeline()
    if tel is None:
        return
    tel.graceful_stop(STOP_FLUSH_S)  # never raises
