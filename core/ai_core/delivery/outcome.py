"""What the endpoint's answer means for each item of a batch: delivered, retry, or drop.

A pure function of (status, per-item errors, batch), so every rule is unit-testable and the
sender only acts on the verdict. The items are opaque here (the sender's encoded bytes, or
envelope dicts), except when one must be trimmed. Rules (README, "Delivery"):

* 200 with no errors: all delivered.
* 206, or any ``errors[]`` even with 200: items whose code is retriable are retried, the rest
  dropped (counted with their code); an item the service rejects with 413 or a size message
  is trimmed and retried once (an item over 64 KiB is otherwise lost for good).
* 408, 429, 439, 500, 502, 503, 504, 401, 403 and network errors: the whole batch is retried
  (401/403 usually mean an Entra ID token problem that fixing the credential resolves; the
  data should survive until then). The official exporter drops 439; we keep it.
* 413 for the whole batch (with or without per-item errors): split in halves and send each
  half; a single item is trimmed and sent once more.
* 400, 404 and anything else: dropped, with one log line saying why.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from ai_core.delivery.encode import encode_item

RETRIABLE = frozenset((401, 403, 408, 429, 439, 500, 502, 503, 504))
# Status 0 is our transport's "no answer" (connection refused, timeout, DNS failure...).
NETWORK_ERROR = 0
TOO_LARGE = 413

Envelope = Dict[str, Any]
Item = Any  # an encoded envelope (bytes), as the sender keeps it, or an envelope dict


@dataclass
class Verdict:
    delivered: int = 0
    retry: List[Item] = field(default_factory=list)
    dropped: Dict[str, int] = field(default_factory=dict)  # reason -> count
    split: List[List[Item]] = field(default_factory=list)  # batches to send separately
    retry_after_s: Optional[float] = None

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _item_status(error: Dict[str, Any]) -> int:
    """The item's ``statusCode``; 0 when the answer carries none we can read."""
    try:
        return int(error.get("statusCode") or 0)
    except (TypeError, ValueError):
        return 0


_SIZE_PHRASES = ("too large", "too big", "exceeds the maximum", "exceeds the limit", "maximum size", "size limit")


def _is_size_rejection(error: Dict[str, Any]) -> bool:
    if _item_status(error) == TOO_LARGE:
        return True
    # Phrases, not the bare word "size": a message naming a property called "size" is not a
    # size rejection, and trimming would only cost a useless retry.
    message = str(error.get("message") or "").lower()
    return any(phrase in message for phrase in _SIZE_PHRASES)


def judge(
    status: int,
    errors: Sequence[Dict[str, Any]],
    batch: Sequence[Item],
    retry_after: Optional[str] = None,
) -> Verdict:
    verdict = Verdict(retry_after_s=parse_retry_after(retry_after))
    if status == 200 and not errors:
        verdict.delivered = len(batch)
        return verdict
    if status == TOO_LARGE:
        # The request as a whole was too large, whatever per-item errors came with it: those
        # would only repeat 413 for every item, and judging them one by one would drop them.
        _judge_too_large(verdict, batch)
        return verdict
    if status in (200, 206) or (errors and status not in RETRIABLE and status != NETWORK_ERROR):
        _judge_items(verdict, errors, batch)
        return verdict
    if status == NETWORK_ERROR or status in RETRIABLE:
        verdict.retry = list(batch)
        return verdict
    verdict.drop("rejected by the endpoint with HTTP %d" % status, len(batch))
    return verdict


def _judge_too_large(verdict: Verdict, batch: Sequence[Item]) -> None:
    """Halves are sent separately; a single item is trimmed (once) rather than lost."""
    if len(batch) > 1:
        half = len(batch) // 2
        verdict.split = [list(batch[:half]), list(batch[half:])]
        return
    trimmed = trim_item(batch[0]) if batch else None
    if trimmed is not None:
        verdict.split = [[trimmed]]
    else:
        verdict.drop("too large for the endpoint", len(batch))


def _judge_items(verdict: Verdict, errors: Sequence[Dict[str, Any]], batch: Sequence[Item]) -> None:
    failed_indexes = set()
    for error in errors:
        try:
            index = int(error.get("index"))
        except (TypeError, ValueError):
            continue
        if not 0 <= index < len(batch) or index in failed_indexes:
            continue
        failed_indexes.add(index)
        code = _item_status(error)
        item = batch[index]
        if code in RETRIABLE:
            verdict.retry.append(item)
        elif _is_size_rejection(error):
            trimmed = trim_item(item)
            if trimmed is not None:
                verdict.retry.append(trimmed)
            else:
                verdict.drop("too large for the endpoint")
        elif str(error.get("message") or "") == "Telemetry sampled out.":
            verdict.drop("sampled out by the endpoint")
        else:
            verdict.drop("rejected by the endpoint (item status %d)" % code)
    verdict.delivered = len(batch) - len(failed_indexes)


# Sizes the service accepts per item; trimming aims well under the 64 KiB item limit.
_TRIM_PROPERTY_VALUE = 1024
_TRIM_TEXT = 8192


def trim_item(item: Item) -> Optional[Item]:
    """``trim_envelope`` for an item as the sender keeps it: encoded bytes are decoded, trimmed
    and encoded again (a rare path: the sender trims what it knows to be too large before
    encoding, so this runs only when the service finds an item too large after all)."""
    if not isinstance(item, bytes):
        return trim_envelope(item)
    try:
        envelope = json.loads(item)
    except ValueError:
        return None
    trimmed = trim_envelope(envelope) if isinstance(envelope, dict) else None
    return None if trimmed is None else encode_item(trimmed)


def trim_envelope(envelope: Envelope) -> Optional[Envelope]:
    """A copy with long properties, messages and stacks cut.

    Returns None when nothing could be cut (the size problem is elsewhere, or the item was
    trimmed already), so an item is trimmed at most once.
    """
    data = envelope.get("data") or {}
    base = dict(data.get("baseData") or {})
    changed = False
    props = base.get("properties")
    if isinstance(props, dict):
        new_props = {}
        for key, value in props.items():
            if isinstance(value, str) and len(value) > _TRIM_PROPERTY_VALUE:
                value = value[:_TRIM_PROPERTY_VALUE]
                changed = True
            new_props[key] = value
        base["properties"] = new_props
    for key in ("message", "data", "url"):
        value = base.get(key)
        if isinstance(value, str) and len(value) > _TRIM_TEXT:
            base[key] = value[:_TRIM_TEXT]
            changed = True
    exceptions = base.get("exceptions")
    if isinstance(exceptions, list):
        new_exceptions = []
        for exc in exceptions:
            exc = dict(exc)
            stack = exc.get("stack")
            if isinstance(stack, str) and len(stack) > _TRIM_TEXT:
                exc["stack"] = stack[-_TRIM_TEXT:]  # the innermost frames are the useful ones
                changed = True
            new_exceptions.append(exc)
        base["exceptions"] = new_exceptions
    if not changed:
        return None
    out = dict(envelope)
    out["data"] = dict(data, baseData=base)
    return out
