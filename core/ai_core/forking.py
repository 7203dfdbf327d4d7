"""What a forked child must redo: locks another thread may have held, per-process state.

Hooks are registered weakly, so registering never keeps an object alive.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable


def after_fork_in_child(method: Callable[[], Any]) -> None:
    """Call the bound ``method`` in every forked child, for as long as its object lives."""
    if not hasattr(os, "register_at_fork"):
        return
    weak = weakref.WeakMethod(method)  # type: ignore[arg-type]

    def call() -> None:
        alive = weak()
        if alive is not None:
            alive()

    os.register_at_fork(after_in_child=call)


def reset_lock_after_fork(owner: object, attribute: str = "_lock") -> None:
    """Give ``owner`` a fresh ``threading.Lock`` in a forked child.

    A lock held by another thread at ``fork`` stays held for ever in the child, where that
    thread does not exist: the child's first call that needs it would hang.
    """
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.ref(owner)

    def reset() -> None:
        alive = ref()
        if alive is not None:
            setattr(alive, attribute, threading.Lock())

    os.register_at_fork(after_in_child=reset)
