"""Task runs and enqueues as spans: our receivers of Celery's signals around the contrib
instrumentation's (README, "Celery").

The contrib ``CeleryInstrumentor`` carries the trace context in the task headers and makes a
PRODUCER span ``apply_async/<task>`` (the enqueue dependency) and a CONSUMER span
``run/<task>`` (the task request). Ours run before it, to decide whether the span is to be
dropped and to mark the broker's traffic in the context, and after it, to name the request
by the task and add the task id and retry count. The task's state becomes the result code
in the envelope mapping (``celery.state``, which the instrumentation writes).

* Excluded tasks (``excluded_tasks``) and tasks whose caller dropped its trace get a span
  that records nothing and says "not sampled" (``_TaskTracer``): the sampler drops
  everything under it. Beat's own enqueues get no span at all (their tasks have no caller),
  unless ``record_beat`` asks for them: then each is the root of its task's operation.
* The instrumentation's ``flower.task.runtime.seconds`` histogram is not recorded at all:
  the task request's duration is the same number, and Application Insights has no use for
  a second one.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Optional

from ai_core.tasks.rules import TaskExclusion

__all__ = ["STATE", "wire"]

logger = logging.getLogger("ai_core")

_TASK_ID = "celery.task_id"
_RETRIES = "celery.retries"


class _SpanState:
    """What the receivers share in this process."""

    def __init__(self) -> None:
        self.exclusion = TaskExclusion()  # every Celery app's excluded_tasks (an enqueue names no app)
        self.in_beat = False  # celery beat (or a worker's embedded beat) runs in this process
        self.record_beat = False  # the record_beat option: beat's enqueues are dependencies
        # per thread: task id -> what to undo when its run (or enqueue) ends; the drop decision
        self.local = threading.local()


STATE = _SpanState()


def wire() -> None:
    """Connect our receivers around the contrib instrumentation's, and switch it on (once)."""
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider

    # Ours first where we prepare the context its span starts in, ours last where we undo it
    # (context tokens are undone in the reverse order of attaching). An instrumentation
    # someone switched on earlier is re-done in this order.
    signals.before_task_publish.connect(_before_publish, weak=False, dispatch_uid="ai_core.tasks.before_publish")
    signals.task_prerun.connect(_before_run, weak=False, dispatch_uid="ai_core.tasks.before_run")
    instrumentor = CeleryInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    # The tracer comes from the global provider, which leads to whichever pipeline this
    # process configures (the web app's, or the worker's when it starts).
    instrumentor.instrument(tracer_provider=_TaskTracerProvider(), meter_provider=NoOpMeterProvider())
    signals.after_task_publish.connect(_after_publish, weak=False, dispatch_uid="ai_core.tasks.after_publish")
    signals.task_prerun.connect(_name_run, weak=False, dispatch_uid="ai_core.tasks.name_run")
    signals.task_postrun.connect(_after_run, weak=False, dispatch_uid="ai_core.tasks.after_run")


_NO_CALLER = "no caller"


class _TaskTracer:
    """The instrumentation's tracer, except for a task run or enqueue that sends nothing.

    The instrumentation starts a task's span in the context it extracts from the message
    headers, a fresh one it has just made current: nothing our receiver could put in the
    context reaches the sampler there. So our receiver, which runs just before, says whether
    the next span is to be dropped, and for such a run (or enqueue) this tracer hands out a
    span that records nothing and carries "not sampled", in the caller's trace: everything
    started under it is dropped by the sampler (a child follows its local parent), and an
    enqueue made from it tells the task it enqueues to send nothing too.
    """

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        drop = STATE.local.__dict__.pop("drop_next_span", None)
        if drop == _NO_CALLER:
            from opentelemetry import trace

            return trace.INVALID_SPAN  # nothing to propagate: the task has no caller
        if drop:
            return _unsampled_span(context)
        return self._tracer.start_span(name, context, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracer, name)


class _TaskTracerProvider:
    def get_tracer(self, *args: Any, **kwargs: Any) -> _TaskTracer:
        from opentelemetry import trace

        return _TaskTracer(trace.get_tracer_provider().get_tracer(*args, **kwargs))


def _unsampled_span(context: Any) -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    ids = RandomIdGenerator()
    parent = trace.get_current_span(context).get_span_context()
    trace_id = parent.trace_id if parent.is_valid else ids.generate_trace_id()
    return trace.NonRecordingSpan(trace.SpanContext(
        trace_id, ids.generate_span_id(), is_remote=False, trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
    ))


_MAX_PENDING = 256  # per thread; only enqueues whose send raised are left behind


def _pending() -> Dict[Any, List[Callable[[], None]]]:
    pending: Optional[Dict[Any, List[Callable[[], None]]]] = getattr(STATE.local, "pending", None)
    if pending is None:
        pending = STATE.local.pending = {}
    return pending


def _finish(key: Any) -> None:
    undo = _pending().pop(key, None)
    for step in reversed(undo or ()):
        try:
            step()
        except Exception:
            logger.debug("Application Insights: restoring the context after a task failed", exc_info=True)


def _enter(key: Any, excluded: Any, broker_traffic: bool) -> None:
    """Attach the context a task's span (or enqueue's) starts in; undone by :func:`_finish`."""
    from opentelemetry import context as otel_context

    from ai_core.broker_traffic import with_broker_traffic

    pending = _pending()
    if key in pending:  # its end never came (the send raised before after_task_publish)
        _finish(key)
    if len(pending) >= _MAX_PENDING:  # forget the oldest: the request they were in has ended
        for stale in list(pending)[: _MAX_PENDING // 2]:
            pending.pop(stale, None)
    undo: List[Callable[[], None]] = []
    pending[key] = undo
    # Read by _TaskTracer for the span it starts next: True drops it (and the task it enqueues),
    # _NO_CALLER records nothing and gives the task no caller.
    STATE.local.drop_next_span = excluded
    undo.append(lambda: STATE.local.__dict__.pop("drop_next_span", None))
    token = otel_context.attach(with_broker_traffic(broker_traffic))
    undo.append(lambda: otel_context.detach(token))


def _task_name_of_publish(sender: Any, headers: Any) -> Optional[str]:
    if isinstance(headers, dict) and isinstance(headers.get("task"), str):
        return headers["task"]
    return sender if isinstance(sender, str) else getattr(sender, "name", None)


def _before_publish(sender: Any = None, headers: Any = None, **_: Any) -> None:
    try:
        task_id = headers.get("id") if isinstance(headers, dict) else None
        excluded = STATE.exclusion.excludes(_task_name_of_publish(sender, headers)) or (
            _NO_CALLER if _beat_schedules() else False)
        # The message is sent by Redis commands (or another broker's calls): the enqueue
        # dependency shows it; the commands themselves are the broker's (README, "Celery").
        _enter(("publish", task_id), excluded, broker_traffic=True)
    except Exception:
        logger.debug("Application Insights: preparing an enqueue failed", exc_info=True)


def _beat_schedules() -> bool:
    """Beat's own enqueues (outside any operation) record nothing unless ``record_beat`` asks
    for them (README, "Celery")."""
    if not STATE.in_beat or STATE.record_beat:
        return False
    from opentelemetry import trace

    return not trace.get_current_span().get_span_context().is_valid


def _after_publish(sender: Any = None, headers: Any = None, **_: Any) -> None:
    task_id = headers.get("id") if isinstance(headers, dict) else None
    _finish(("publish", task_id))


def _caller_dropped(request: Any) -> bool:
    """The caller's trace context came with the task and says "not sampled": the task's
    sampling follows its caller (README, "Celery")."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import celery_getter
    from opentelemetry.propagate import extract

    parent = trace.get_current_span(extract(request, getter=celery_getter)).get_span_context()
    return parent.is_valid and not parent.trace_flags.sampled


def _before_run(sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
    try:
        task = task or sender
        name = getattr(task, "name", None)
        excluded = STATE.exclusion.excludes(name) or _caller_dropped(getattr(task, "request", None))
        # The task's own code is the app's: its Redis calls are recorded even in a worker
        # whose main thread is marked as broker traffic.
        _enter(("run", task_id), excluded, broker_traffic=False)
    except Exception:
        logger.debug("Application Insights: preparing a task run failed", exc_info=True)


def _name_run(sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
    """The task request is named by the task, with its id and retry count as properties."""
    try:
        from opentelemetry import trace

        task = task or sender
        span = trace.get_current_span()
        if not span.is_recording() or getattr(span, "kind", None) is not trace.SpanKind.CONSUMER:
            return
        name = getattr(task, "name", None)
        if name:
            span.update_name(name)
        if task_id:
            span.set_attribute(_TASK_ID, str(task_id))
        retries = getattr(getattr(task, "request", None), "retries", None)
        span.set_attribute(_RETRIES, int(retries or 0))
    except Exception:
        logger.debug("Application Insights: naming a task run failed", exc_info=True)


def _after_run(sender: Any = None, task_id: Any = None, **_: Any) -> None:
    _finish(("run", task_id))
