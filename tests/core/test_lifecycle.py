"""Flushing when the process stops."""

from __future__ import annotations

import signal
from typing import Any, List

from ai_core import lifecycle


class _Handle:
    def __init__(self) -> None:
        self.is_shut_down = False
        self.flushes: List[float] = []

    def force_flush(self, timeout_s: float = 10) -> bool:
        self.flushes.append(timeout_s)
        return True

    def shutdown(self) -> None:
        self.is_shut_down = True


def test_sigterm_flushes_the_pipeline_configured_after_an_earlier_one_was_shut_down() -> None:
    original = signal.getsignal(signal.SIGTERM)
    received: List[Any] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        first, second = _Handle(), _Handle()
        lifecycle.flush_on_exit(first)
        first.shutdown()
        lifecycle.flush_on_exit(second)  # the handler is already installed: not chained twice
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)
        assert second.flushes == [lifecycle.FLUSH_ON_SIGNAL_S]
        assert first.flushes == []
        assert received == [signal.SIGTERM]  # the previous handler still runs, once
    finally:
        signal.signal(signal.SIGTERM, original)
