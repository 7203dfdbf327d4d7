"""``track_event``: custom events (customEvents table) through the log pipeline.

Events are log records marked with ``microsoft.custom_event.name``, which the log mapping
turns into EventData, so they share batching, retries and storage with every other signal.
"""

from __future__ import annotations

import json
import logging
from typing import Mapping, Optional

from ai_core.diagnostics import DROPS

logger = logging.getLogger("ai_core")


def track_event(
    name: str,
    properties: Optional[Mapping[str, object]] = None,
    measurements: Optional[Mapping[str, float]] = None,
) -> None:
    """Record a custom event. Does nothing (and never raises) when telemetry is off."""
    from ai_core.configure import current

    telemetry = current()
    if telemetry is None or not telemetry.enabled:
        return
    try:
        attributes = {str(k): str(v) for k, v in (properties or {}).items()}
        attributes["microsoft.custom_event.name"] = str(name)
        if measurements:
            attributes["microsoft.custom_measurements"] = json.dumps(dict(measurements))
        telemetry.event_logger().emit(body=str(name), attributes=attributes)
    except Exception:
        DROPS.add("custom event could not be recorded")
