"""One ``POST /v2.1/track`` batch: faults, decoding, validation, storage and the service's reply.

The reply has the service's shape, ``{"itemsReceived", "itemsAccepted", "errors": [{"index",
"statusCode", "message"}]}``: 200 when every item is accepted, 206 when some are rejected,
400 when the body is unreadable or every item is rejected, 413 when it inflates beyond the cap. A fault can replace the status,
fail single items, delay the answer, or ask the server to drop the connection.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ai_core.emulator import ingest, validate
from ai_core.emulator.faults import Fault, FaultQueue
from ai_core.emulator.stats import Stats
from ai_core.emulator.store import Store
from ai_core.emulator.summary import summarize

# The messages the service uses for whole-batch refusals; the exporter only logs them.
STATUS_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    408: "Request timeout",
    429: "Too many requests: throttled",
    439: "Daily quota exceeded",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


MAX_ITEM_BYTES = 64 * 1024  # the ingestion service's per-item limit


def _item_bytes(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@dataclass
class TrackReply:
    status: int
    body: Optional[Dict[str, Any]]  # None together with drop=True
    headers: Dict[str, str] = field(default_factory=dict)
    drop: bool = False


def _reply(status: int, received: int, accepted: int, errors: List[Dict[str, Any]],
           fault: Optional[Fault]) -> TrackReply:
    headers = {}
    if fault is not None and fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    body = {"itemsReceived": received, "itemsAccepted": accepted, "errors": errors}
    return TrackReply(status, body, headers)


class TrackHandler:
    """Processes track batches against one store, fault queue and set of counters."""

    def __init__(self, store: Store, faults: FaultQueue, stats: Stats) -> None:
        self.store = store
        self.faults = faults
        self.stats = stats

    def handle(self, body: bytes, content_encoding: Optional[str]) -> TrackReply:
        fault = self.faults.take()
        if fault is not None and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000.0)
        try:
            items = ingest.parse(body, content_encoding)
        except ingest.BodyError as exc:
            items = None
            body_error, body_status = str(exc), exc.status
        n = len(items) if items is not None else 0
        self.stats.add(batches_received=1, items_received=n, bytes_received=len(body),
                       batches_faulted=1 if fault is not None else 0)
        if fault is not None and fault.drop_connection:
            return TrackReply(0, None, drop=True)
        status = fault.whole_batch_status if fault is not None else None
        if status is not None:
            message = fault.message or STATUS_MESSAGES.get(status, "Injected fault %d" % status)
            errors = [{"index": i, "statusCode": status, "message": message} for i in range(n)]
            return _reply(status, n, 0, errors, fault)
        if items is None:
            self.stats.add(batches_unreadable=1)
            errors = [{"index": 0, "statusCode": body_status, "message": body_error}]
            return _reply(body_status, 0, 0, errors, fault)
        return self._process(items, fault)

    def _process(self, items: List[ingest.RawItem], fault: Optional[Fault]) -> TrackReply:
        errors: List[Dict[str, Any]] = []
        accepted: List[Tuple[Any, Optional[List[str]], str]] = []
        rejected: List[Tuple[int, int, str, str]] = []
        scripted = fault is not None and fault.item_status is not None
        check = validate.check
        for index, item in enumerate(items):
            if scripted:
                code = fault.item_code(index)
                if code != 200:
                    # A scripted failure, not a schema problem: reported, neither stored nor
                    # listed as rejected (the client is expected to retry or drop it).
                    errors.append({"index": index, "statusCode": code,
                                   "message": fault.message or STATUS_MESSAGES.get(
                                       code, "Injected item status %d" % code)})
                    continue
            error = item.error
            warnings: List[str] = []
            if error is None and len(item.text) > MAX_ITEM_BYTES // 2:
                # The service drops items over 64 KiB; say so instead of storing them. Measured
                # as compact UTF-8 JSON, not the length of our own re-serialised text.
                size = _item_bytes(item.value)
                if size > MAX_ITEM_BYTES:
                    error = "item too large: %d bytes, the limit is %d bytes per item" % (size, MAX_ITEM_BYTES)
            if error is None:
                error, warnings = check(item.value)
            if error is not None:
                errors.append({"index": index, "statusCode": 400, "message": error})
                rejected.append((index, 400, error, item.text))
                continue
            accepted.append((summarize(item.value), warnings or None, item.text))
        self.store.add_batch(accepted, rejected)
        self.stats.add(items_accepted=len(accepted), items_rejected=len(rejected))
        if fault is not None and fault.status is not None:
            status = fault.status
        elif not errors:
            status = 200
        elif accepted:
            status = 206
        else:
            status = 400
        return _reply(status, len(items), len(accepted), errors, fault)
