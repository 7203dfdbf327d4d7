"""Flushing when the process stops: at interpreter exit, and on SIGTERM itself.

``atexit`` alone is not enough: uvicorn re-raises SIGTERM after its own shutdown, so the
interpreter dies from the signal and ``atexit`` never runs (the official distro loses its last
batch this way). We chain a SIGTERM handler that flushes, then hands the signal on to whatever
handler was there before (gunicorn's, uvicorn's, or the default, which terminates).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from typing import Any

logger = logging.getLogger("ai_core")

FLUSH_ON_SIGNAL_S = 3.0

# The handle SIGTERM flushes: the latest configure()'s. The handler is installed once per
# process, so after shutdown() and a new configure() it must not keep flushing the old one.
_signal_target: Any = None


def flush_on_exit(telemetry: Any) -> None:
    global _signal_target
    _signal_target = telemetry
    atexit.register(telemetry.shutdown)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be installed from the main thread
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):
        return
    if getattr(previous, "_ai_core_flush", False):
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        target = _signal_target
        dies_now = not callable(previous) and previous != signal.SIG_IGN
        try:
            if target is not None and not target.is_shut_down:
                if dies_now:
                    # The process ends with this signal: the graceful stop, which also puts what
                    # the endpoint did not take into offline storage instead of losing it.
                    target.graceful_stop()
                else:  # a server's own handler follows and stops gracefully; atexit shuts down
                    target.force_flush(FLUSH_ON_SIGNAL_S)
        except Exception:
            pass
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL (or unknown): die of the signal, as the process would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    on_sigterm._ai_core_flush = True  # type: ignore[attr-defined]
    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        pass
