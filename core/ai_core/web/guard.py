"""Telemetry never breaks a request: every call our code makes on a request path is guarded.

A failure inside our own code (an adapter hook, a user's ``user_id`` callable, a header that
parses oddly) is counted as lost telemetry and reported once per interval on the ``ai_core``
logger (never in a loop); the request goes on as if we were not there. The first failure of
each guarded place is also logged with its traceback (DEBUG), so the report can be traced to
the line that failed; later ones are only counted.

Guard once, at the adapter's boundary (the hook or middleware step the framework calls): the
request layer's own functions do not guard again, so the label and the traceback say where
the failure was rather than which of three nested guards caught it.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Optional, Set, TypeVar

from ai_core.diagnostics import DROPS

T = TypeVar("T")

logger = logging.getLogger("ai_core")

_TRACED: Set[str] = set()  # labels whose first failure was logged with its traceback


def _failed(what: str, kind: type, exc: BaseException, tb: Any) -> None:
    DROPS.add("telemetry error while %s (%s)" % (what, kind.__name__))
    if what not in _TRACED:
        _TRACED.add(what)
        logger.debug("telemetry error while %s (first one; later ones are only counted)", what,
                     exc_info=(kind, exc, tb))


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
        _failed(self._what, kind, exc, tb)
        return True


def guard(what: str, default: Optional[T] = None) -> Callable[[Callable[..., T]], Callable[..., Optional[T]]]:
    """Decorator form of :func:`guarded`: the function returns ``default`` when it raises."""

    def wrap(fn: Callable[..., T]) -> Callable[..., Optional[T]]:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Optional[T]:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                _failed(what, type(exc), exc, exc.__traceback__)
                return default

        return call

    return wrap
