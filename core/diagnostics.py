"""Our own diagnostics: counted drops, reported at most once per interval, never in a loop.

Logged on the ``ai_core`` logger, which the export handler never exports (no recursion).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Dict, Optional

logger = logging.getLogger("ai_core")


class DropCounter:
    """Counts dropped telemetry items by reason and logs a summary at most every ``interval_s``."""

    def __init__(self, interval_s: float = 60.0, log: Optional[logging.Logger] = None) -> None:
        self._counts: Counter = Counter()
        self._total: Counter = Counter()
        self._interval = interval_s
        self._last_report = 0.0
        self._lock = threading.Lock()
        self._log = log or logger

    def add(self, reason: str, count: int = 1) -> None:
        if count <= 0:
            return
        with self._lock:
            self._counts[reason] += count
            self._total[reason] += count
            now = time.monotonic()
            if now - self._last_report < self._interval:
                return
            pending, self._counts = dict(self._counts), Counter()
            self._last_report = now
        summary = ", ".join("%d %s" % (n, why) for why, n in sorted(pending.items()))
        self._log.warning("Application Insights telemetry dropped: %s", summary)

    def totals(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._total)


DROPS = DropCounter()
