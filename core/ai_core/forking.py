"""What a forked child must redo: locks another thread may have held, per-process state.

Every fork hook of ``ai_core`` goes through here: this module registers one
``os.register_at_fork`` hook for the whole package, and objects are registered weakly, so
registering never keeps an object alive and a short-lived object leaves no hook behind.
``ForkWatch`` also notices a fork the hooks never see (``fork()`` called from C code).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Callable, List, Tuple

logger = logging.getLogger("ai_core")

_HOOKS: List[Tuple["weakref.ref[Any]", Callable[[Any], Any]]] = []
_HOOKS_LOCK = threading.Lock()
_LIVE_AFTER_PRUNE = 0


def on_fork_in_child(owner: object, action: Callable[[Any], Any]) -> None:
    """Call ``action(owner)`` in every forked child, for as long as ``owner`` lives."""
    global _LIVE_AFTER_PRUNE
    entry = (weakref.ref(owner), action)
    with _HOOKS_LOCK:
        _HOOKS.append(entry)
        if len(_HOOKS) > 2 * _LIVE_AFTER_PRUNE + 64:  # forget dead owners, amortised O(1)
            _HOOKS[:] = [(ref, act) for ref, act in _HOOKS if ref() is not None]
            _LIVE_AFTER_PRUNE = len(_HOOKS)


def after_fork_in_child(method: Callable[[], Any]) -> None:
    """Call the bound ``method`` in every forked child, for as long as its object lives."""
    on_fork_in_child(method.__self__, method.__func__)  # type: ignore[attr-defined]


def reset_lock_after_fork(owner: object, attribute: str = "_lock") -> None:
    """Give ``owner`` a fresh ``threading.Lock`` in a forked child.

    A lock held by another thread at ``fork`` stays held for ever in the child, where that
    thread does not exist: the child's first call that needs it would hang.
    """
    on_fork_in_child(owner, lambda alive: setattr(alive, attribute, threading.Lock()))


class ForkWatch:
    """Runs ``redo`` (a bound method, held weakly) once in each forked child.

    From the fork hook; and, for a fork the hook never sees (``fork()`` called from C code,
    a platform without ``os.register_at_fork``), from the first ``check()`` in the child.
    """

    def __init__(self, redo: Callable[[], Any]) -> None:
        self.pid = os.getpid()
        self._redo = weakref.WeakMethod(redo)  # type: ignore[arg-type]
        on_fork_in_child(self, ForkWatch._forked)

    @property
    def forked(self) -> bool:
        """True in a forked child whose state has not been redone yet."""
        return self.pid != os.getpid()

    def check(self) -> None:
        """Redo the state now if this is a forked child the hook did not reach."""
        if self.pid != os.getpid():
            self._forked()

    def _forked(self) -> None:
        self.pid = os.getpid()
        redo = self._redo()
        if redo is not None:
            redo()


def _run_hooks_in_child() -> None:
    global _HOOKS_LOCK
    _HOOKS_LOCK = threading.Lock()  # another thread may have held it at the fork
    for ref, action in list(_HOOKS):
        owner = ref()
        if owner is None:
            continue
        try:
            action(owner)
        except Exception:  # one broken hook must not keep the others from running
            logger.warning("Application Insights: resetting state after fork failed", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_run_hooks_in_child)
