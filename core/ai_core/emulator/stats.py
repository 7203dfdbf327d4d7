"""Counters of what the track endpoint received since start-up (``GET /api/stats``)."""

from __future__ import annotations

import threading
import time
from typing import Dict


class Stats:
    FIELDS = ("batches_received", "items_received", "items_accepted", "items_rejected",
              "batches_faulted", "batches_unreadable", "bytes_received")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self._counts: Dict[str, int] = dict.fromkeys(self.FIELDS, 0)

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, n in counts.items():
                self._counts[key] += n

    def snapshot(self) -> Dict[str, float]:
        with self._lock:
            out: Dict[str, float] = dict(self._counts)
        out["uptime_s"] = round(time.time() - self.started, 3)
        return out

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self.FIELDS, 0)
