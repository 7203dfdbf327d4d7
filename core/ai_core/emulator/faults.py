"""Fault injection: a queue of scripted misbehaviours applied, in order, to the next track batches.

A fault is a JSON object (``POST /api/faults``)::

    {"status": 503, "count": 3, "retry_after": 2}        whole batch fails, nothing stored
    {"status": 206, "item_status": [200, 500, 400]}      per-item codes by index, cycling
    {"delay_ms": 500, "count": 2}                        answer normally, but late
    {"drop_connection": true}                            close the socket, no answer
    {"status": 439, "message": "daily quota exceeded"}

``count`` (default 1) is how many batches the fault applies to; faults are used up front to
back. ``delay_ms`` combines with any other field. ``status`` 200 or 206 without
``item_status`` only forces the reply status; with ``item_status`` the default status is 206.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Union

_KEYS = {"status", "count", "retry_after", "item_status", "delay_ms", "drop_connection", "message"}


@dataclass
class Fault:
    status: Optional[int] = None
    count: int = 1
    retry_after: Optional[str] = None  # Retry-After header value (seconds or an HTTP date)
    item_status: Optional[List[int]] = None
    delay_ms: int = 0
    drop_connection: bool = False
    message: Optional[str] = None
    applied: int = field(default=0)  # batches this fault has already been applied to

    @property
    def whole_batch_status(self) -> Optional[int]:
        """The status failing the whole batch, or ``None`` when items are processed."""
        if self.status is None or self.item_status is not None or self.status in (200, 206):
            return None
        return self.status

    def item_code(self, index: int) -> int:
        """The scripted status of item ``index`` (cycling through ``item_status``)."""
        codes = self.item_status or [200]
        return codes[index % len(codes)]

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _int(spec: Dict[str, Any], key: str, low: int, high: int) -> Optional[int]:
    value = spec.get(key)
    if value is None:
        return None
    if value.__class__ is not int or not low <= value <= high:
        raise ValueError("%s: must be an integer between %d and %d" % (key, low, high))
    return value


def parse_fault(spec: Any) -> Fault:
    """A ``Fault`` from its JSON form; ``ValueError`` with a readable message when invalid."""
    if not isinstance(spec, dict):
        raise ValueError("a fault must be a JSON object")
    unknown = set(spec) - _KEYS
    if unknown:
        raise ValueError("unknown fault field(s): %s (known: %s)" % (
            ", ".join(sorted(unknown)), ", ".join(sorted(_KEYS))))
    status = _int(spec, "status", 100, 599)
    count = _int(spec, "count", 1, 1_000_000) or 1
    delay_ms = _int(spec, "delay_ms", 0, 600_000) or 0
    retry_after = spec.get("retry_after")
    if retry_after is not None:
        if retry_after.__class__ in (int, float):
            retry_after = "%g" % retry_after
        elif not isinstance(retry_after, str):
            raise ValueError("retry_after: must be seconds or an HTTP date string")
    item_status = spec.get("item_status")
    if item_status is not None:
        if (not isinstance(item_status, list) or not item_status
                or any(c.__class__ is not int or not 100 <= c <= 599 for c in item_status)):
            raise ValueError("item_status: must be a non-empty list of HTTP status codes")
        if status is None:
            status = 206
    drop = spec.get("drop_connection", False)
    if drop.__class__ is not bool:
        raise ValueError("drop_connection: must be a boolean")
    message = spec.get("message")
    if message is not None and not isinstance(message, str):
        raise ValueError("message: must be a string")
    if status is None and not delay_ms and not drop and retry_after is None:
        raise ValueError("a fault needs at least one of status, item_status, delay_ms, "
                         "drop_connection")
    return Fault(status=status, count=count, retry_after=retry_after, item_status=item_status,
                 delay_ms=delay_ms, drop_connection=drop, message=message)


class FaultQueue:
    """Pending faults, thread-safe. ``take()`` hands out the fault for the next batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: List[Fault] = []

    def add(self, spec: Union[Dict[str, Any], List[Dict[str, Any]]]) -> List[Fault]:
        """Queue one fault or a list of faults (all validated before any is queued)."""
        faults = [parse_fault(s) for s in spec] if isinstance(spec, list) else [parse_fault(spec)]
        with self._lock:
            self._faults.extend(faults)
        return faults

    def take(self) -> Optional[Fault]:
        """The fault to apply to this batch (its count is used up by one), or ``None``."""
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.applied += 1
            if fault.applied >= fault.count:
                self._faults.pop(0)
            return fault

    def pending(self) -> List[Dict[str, Any]]:
        with self._lock:
            return [dict(f.to_json(), remaining=f.count - f.applied) for f in self._faults]

    def clear(self) -> int:
        with self._lock:
            n = len(self._faults)
            self._faults.clear()
            return n
