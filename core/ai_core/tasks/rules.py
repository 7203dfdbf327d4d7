"""The task layer's rules over plain values: which tasks send nothing, and the worker's role.

No Celery import here: the wiring (``ai_core.tasks.celery_setup``) reads Celery's objects and
asks these.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Dict, Iterable, Optional, Tuple

__all__ = ["TaskExclusion", "worker_role_default", "beat_role_default", "worker_instance", "WORKER_SUFFIX",
           "BEAT_SUFFIX", "POOL_INDEX_SEPARATOR"]

WORKER_SUFFIX = "-worker"
BEAT_SUFFIX = "-beat"
_FALLBACK_ROLE = "celery" + WORKER_SUFFIX
POOL_INDEX_SEPARATOR = "/"


class TaskExclusion:
    """``excluded_tasks``: exact task names or ``fnmatch`` patterns (``shop.reports.*``).

    A task name is matched once and the answer kept: a worker asks for every execution and
    every enqueue, and the set of task names of an app is small.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._patterns: Tuple[str, ...] = tuple(patterns)
        self._answers: Dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def add(self, patterns: Iterable[str]) -> None:
        """Patterns of another Celery app of the same process (one excluded set per process:
        an enqueue names its task but not its app)."""
        new = tuple(p for p in patterns if p not in self._patterns)
        if new:
            self._patterns += new
            self._answers.clear()

    def excludes(self, task_name: Optional[str]) -> bool:
        if not self._patterns or not task_name:
            return False
        answer = self._answers.get(task_name)
        if answer is None:
            answer = any(fnmatchcase(task_name, p) for p in self._patterns)
            if len(self._answers) < 10_000:  # bounded, whatever names a process sees
                self._answers[task_name] = answer
        return answer


def worker_role_default(web_role: Optional[str] = None, celery_main: Optional[str] = None) -> str:
    """A worker's role name when ``OTEL_SERVICE_NAME`` does not give one.

    The web app's role plus ``-worker`` where it is known in the worker (the ``role_name``
    option, which names the web app; Django: else the project), else the Celery app's name
    (``Celery("shop")``), else ``celery-worker``: the application map then shows web -> worker
    as two nodes.
    """
    if web_role and web_role.strip():
        return web_role.strip() + WORKER_SUFFIX
    main = (celery_main or "").strip()
    if main and main != "__main__":
        return main
    return _FALLBACK_ROLE


def beat_role_default(web_role: Optional[str] = None, celery_main: Optional[str] = None) -> str:
    """``celery beat``'s role name where ``record_beat`` asks it to record its enqueues: the
    worker's default with ``-beat`` in place of ``-worker`` (``shop-beat``), else the Celery
    app's name plus ``-beat``, else ``celery-beat``."""
    worker = worker_role_default(web_role, celery_main)
    if worker.endswith(WORKER_SUFFIX):
        return worker[: -len(WORKER_SUFFIX)] + BEAT_SUFFIX
    return worker + BEAT_SUFFIX


def worker_instance(node_name: str, pool_index: Optional[int] = None) -> str:
    """A worker process's default role instance: the worker's node name as Celery shows it
    (``celery@web1``, what ``celery inspect`` and Flower show); in a prefork child, plus
    ``/`` and the child's pool index, 1 to the concurrency (``celery@web1/2``, the number
    Celery's ``%i`` gives in a ``--logfile`` pattern). A child that replaces a recycled one
    (``--max-tasks-per-child``) takes its index: the portal lists one instance per pool slot,
    not one per process that ever ran."""
    if pool_index is None:
        return node_name
    return "%s%s%d" % (node_name, POOL_INDEX_SEPARATOR, pool_index)
