"""Batch of envelopes -> one track request, and what its answer means for each item.

This first version sends synchronously from the exporter's own (background) thread; retries
and offline storage plug in here (issue 4) without touching the exporters.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence

from ai_core.delivery.encode import encode_batch
from ai_core.delivery.transport import TrackResponse, Transport
from ai_core.diagnostics import DROPS

logger = logging.getLogger(__name__)

RETRIABLE_STATUS = frozenset((408, 429, 439, 500, 502, 503, 504))


class Sender:
    """Sends envelopes; reports success as a bool and counts every item it gives up on."""

    def __init__(self, track_url: str, timeout_s: float = 10.0) -> None:
        self.transport = Transport(track_url, connect_timeout=timeout_s)

    def send(self, envelopes: Sequence[Dict[str, Any]]) -> bool:
        if not envelopes:
            return True
        response = self.transport.post(encode_batch(envelopes))
        return self._judge(response, len(envelopes))

    def _judge(self, response: TrackResponse, count: int) -> bool:
        if response.status == 200 and not response.errors:
            return True
        if response.status in (200, 206):
            rejected: List[int] = [int(e.get("statusCode") or 0) for e in response.errors]
            DROPS.add("rejected by the endpoint (status %s)" % ",".join(sorted({str(c) for c in rejected})), len(rejected))
            return False
        reason = response.error or "HTTP %d" % response.status
        DROPS.add("not delivered (%s)" % reason, count)
        return False

    def close(self) -> None:
        self.transport.close()
