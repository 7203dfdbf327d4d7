"""One call for "this server is stopping", for adapters that do not hold the handle.

Used for the ASGI lifespan shutdown and gunicorn's ``worker_exit``; the work itself is
:meth:`ai_core.telemetry.Telemetry.graceful_stop` (flush, then shut down, within a bound),
which the SIGTERM handler of the core calls too.
"""

from __future__ import annotations

from typing import Any, Optional

from ai_core.configure import current
from ai_core.telemetry import STOP_TIMEOUT_S

__all__ = ["STOP_TIMEOUT_S", "graceful_stop"]


def graceful_stop(telemetry: Optional[Any] = None, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Deliver what is queued (or put it in offline storage) and stop the pipeline.

    ``telemetry``: the handle to stop; None stops the process's current one, if any. Returns
    True when everything was sent within ``timeout_s``; never raises.
    """
    if telemetry is None:
        telemetry = current()
    if telemetry is None:
        return True
    return bool(telemetry.graceful_stop(timeout_s))
