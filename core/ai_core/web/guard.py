"""Telemetry never breaks a request: every call our code makes on a request path is guarded.

A failure inside our own code (an adapter hook, a user's ``user_id`` callable, a header that
parses oddly) is counted once as lost telemetry and logged once per interval on the
``ai_core`` logger (never in a loop); the request goes on as if we were not there.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, TypeVar

from ai_core.diagnostics import DROPS

T = TypeVar("T")


class guarded:  # noqa: N801 (used like a function: ``with guarded("..."):``)
    """``with guarded("reading the user"):`` swallows and counts any exception of the block.

    Only ``Exception``: ``KeyboardInterrupt``/``SystemExit`` still stop the process. A class
    rather than a ``@contextmanager`` generator: it runs several times per request, and a
    generator-based one costs about three times as much to enter and leave.
    """

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if kind is None or not issubclass(kind, Exception):
            return False
        # telemetry must never break the request
        DROPS.add("telemetry error while %s (%s)" % (self._what, kind.__name__))
        return True


def guard(what: str, default: Optional[T] = None) -> Callable[[Callable[..., T]], Callable[..., Optional[T]]]:
    """Decorator form of :func:`guarded`: the function returns ``default`` when it raises."""

    def wrap(fn: Callable[..., T]) -> Callable[..., Optional[T]]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Optional[T]:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                DROPS.add("telemetry error while %s (%s)" % (what, type(exc).__name__))
                return default

        return call

    return wrap
