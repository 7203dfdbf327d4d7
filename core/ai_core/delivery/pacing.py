"""Export work hands the interpreter back to the app every few items.

A thread that runs Python code keeps the GIL until the interpreter's switch interval (5 ms)
forces it out, so while the export thread converts a 512-span batch (10-25 ms) every request
thread that comes back from a socket read waits up to 5 ms for it: the app's tail latency
grows, though the work is the same. ``time.sleep(0)`` releases the GIL at once, so a waiting
request thread runs within microseconds; a few dozen spans is about half a millisecond of
conversion, and the call costs about a microsecond.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator, TypeVar

__all__ = ["EVERY", "paced"]

T = TypeVar("T")

EVERY = 32  # items between hand-backs: ~0.3-0.5 ms of conversion


def paced(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """``items``, releasing the GIL after every ``every`` of them."""
    count = 0
    for item in items:
        yield item
        count += 1
        if count == every:
            count = 0
            time.sleep(0)
