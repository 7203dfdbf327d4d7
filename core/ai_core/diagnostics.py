"""Our own diagnostics: counted drops, reported at most once per interval, never in a loop.

Logged on the ``ai_core`` logger, which the export handler never exports (no recursion).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from typing import Callable, Dict, Optional

from ai_core.forking import reset_lock_after_fork

logger = logging.getLogger("ai_core")


class _LastResortHandler(logging.StreamHandler):
    """Shows our warnings on stderr when nothing else would.

    Python prints unhandled warnings through ``logging.lastResort`` only when *no* handler
    exists; our own export handler on the root logger would count as one (and filters our
    records out), so without this our diagnostics would vanish in an app with no logging
    set up. When the app has its own handler, that one shows them instead, once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setLevel(logging.WARNING)
        self.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if not _someone_else_handles(record, self):
            super().emit(record)


def _someone_else_handles(record: logging.LogRecord, me: logging.Handler) -> bool:
    current: "logging.Logger | None" = logging.getLogger(record.name)
    while current is not None:
        for handler in current.handlers:
            if handler is me or type(handler).__name__ == "ApplicationInsightsLogHandler":
                continue
            if record.levelno >= handler.level:
                return True
        if not current.propagate:
            return False
        current = current.parent  # type: ignore[assignment]
    return False


if not any(isinstance(h, _LastResortHandler) for h in logger.handlers):
    logger.addHandler(_LastResortHandler())


class DropCounter:
    """Counts dropped telemetry items by reason and logs a summary at most every ``interval_s``."""

    def __init__(
        self,
        interval_s: float = 60.0,
        log: Optional[logging.Logger] = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts: Counter = Counter()
        self._total: Counter = Counter()
        self._interval = interval_s
        self._clock = clock  # injectable so the interval rule is testable without waiting
        self._last_report = float("-inf")  # the first drop is always said at once
        self._lock = threading.Lock()
        self._log = log or logger
        reset_lock_after_fork(self)

    def add(self, reason: str, count: int = 1) -> None:
        if count <= 0:
            return
        with self._lock:
            self._counts[reason] += count
            self._total[reason] += count
        self.report(due_only=True)

    def report(self, due_only: bool = False) -> None:
        """Log what was dropped since the last report: when due, or now (at shutdown).

        The export worker calls this every cycle, so drops that came after a report are
        still said once the interval has passed, even if no further drop arrives.
        """
        with self._lock:
            if not self._counts:
                return
            now = self._clock()
            if due_only and now - self._last_report < self._interval:
                return
            pending, self._counts = dict(self._counts), Counter()
            self._last_report = now
        summary = ", ".join("%d %s" % (n, why) for why, n in sorted(pending.items()))
        self._log.warning("Application Insights telemetry dropped: %s", summary)

    def totals(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._total)


DROPS = DropCounter()
