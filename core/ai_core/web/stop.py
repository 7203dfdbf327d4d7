"""One call for "this server is stopping": flush, then shut down, within a bound.

Used for the ASGI lifespan shutdown, gunicorn's ``worker_exit`` and the SIGTERM handler:
uvicorn re-raises SIGTERM after its own shutdown, so ``atexit`` never runs and whatever was
still queued would be lost. Safe to call twice and from several of those places at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

logger = logging.getLogger("ai_core")

STOP_TIMEOUT_S = 5.0


def graceful_stop(telemetry: Optional[Any] = None, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Deliver what is queued (or put it in offline storage) and stop the pipeline.

    ``telemetry``: the handle to stop; None stops the process's current one, if any. Returns
    True when everything was sent within ``timeout_s``; never raises (the server is stopping,
    and an error here must not change how it stops).
    """
    if telemetry is None:
        from ai_core.configure import current

        telemetry = current()
    if telemetry is None or telemetry.is_shut_down:
        return True
    deadline = time.monotonic() + max(timeout_s, 0.0)
    delivered = False
    try:
        delivered = bool(telemetry.force_flush(timeout_s=max(timeout_s, 0.0)))
    except Exception:
        logger.debug("flush at stop failed", exc_info=True)
    try:
        # What the flush could not deliver in time goes to offline storage, within what is left.
        telemetry.shutdown(timeout_s=max(deadline - time.monotonic(), 0.5))
    except Exception:
        logger.debug("shutdown at stop failed", exc_info=True)
    return delivered
