"""Decoding a track request body into items: gzip or plain, JSON array or newline-delimited.

The official exporter sends a plain JSON array; other SDKs send gzip NDJSON. A body that cannot
be read at all (bad gzip, not JSON, not UTF-8) raises ``BodyError`` and the batch gets a 400.
In NDJSON a single unreadable line only rejects that item, as it has its own index.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any, List, Optional

_loads = json.loads
_dumps = json.dumps


class BodyError(ValueError):
    """The request body is unreadable as a whole."""


@dataclass
class RawItem:
    """One item of a batch: the parsed JSON (``None`` when its line did not parse), its JSON
    text for storage, and the parse error, if any."""

    value: Any
    text: str
    error: Optional[str] = None


def decompress(body: bytes, content_encoding: Optional[str]) -> bytes:
    """Undo ``Content-Encoding`` (gzip or deflate); gzip magic is honoured without the header too."""
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip") or (not encoding and body[:2] == b"\x1f\x8b"):
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:  # raw deflate without the zlib header
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error) as exc:
        raise BodyError("body is not valid %s data: %s" % (encoding or "gzip", exc)) from None
    if encoding not in ("", "identity"):
        raise BodyError("unsupported Content-Encoding %r" % content_encoding)
    return body


def parse(body: bytes, content_encoding: Optional[str] = None) -> List[RawItem]:
    """All items of a track body, in order. Raises ``BodyError`` for an unreadable body."""
    raw = decompress(body, content_encoding)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError("body is not UTF-8: %s" % exc) from None
    stripped = text.strip()
    if not stripped:
        raise BodyError("body is empty")
    if stripped[0] == "[":
        try:
            values = _loads(stripped)
        except ValueError as exc:
            raise BodyError("body is not valid JSON: %s" % exc) from None
        if not isinstance(values, list):  # e.g. "[1] [2]" cannot happen, kept for safety
            raise BodyError("body is not a JSON array")
        # One re-serialisation per item: the store keeps each envelope's own JSON text.
        return [RawItem(v, _dumps(v, ensure_ascii=False)) for v in values]
    lines = [line for line in stripped.split("\n") if line.strip()]
    items: List[RawItem] = []
    for line in lines:
        line = line.strip()
        try:
            items.append(RawItem(_loads(line), line))
        except ValueError as exc:
            items.append(RawItem(None, line, "item: not valid JSON: %s" % exc))
    if all(item.error for item in items):
        # Nothing at all parsed: this is not NDJSON, the body is unreadable.
        raise BodyError("body is not valid JSON: %s" % items[0].error.split(": ", 2)[-1])
    return items
