"""The emulator's state, independent of HTTP: store, fault queue, counters, track handler and
the Live Metrics service."""

from __future__ import annotations

from ai_core.emulator.faults import FaultQueue
from ai_core.emulator.live import LiveService
from ai_core.emulator.stats import Stats
from ai_core.emulator.store import Store
from ai_core.emulator.track import TrackHandler


class EmulatorApp:
    def __init__(self, db: str = ":memory:") -> None:
        self.store = Store(db)
        self.faults = FaultQueue()
        self.stats = Stats()
        self.track = TrackHandler(self.store, self.faults, self.stats)
        self.live = LiveService()

    def close(self) -> None:
        self.store.close()
