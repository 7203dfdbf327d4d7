"""Decoding a track request body into items: gzip or plain, JSON array or newline-delimited.

The official exporter sends a plain JSON array; other SDKs send gzip NDJSON. A body that cannot
be read at all (bad gzip, not JSON, not UTF-8, nested too deeply) raises ``BodyError`` and the
batch gets a 400; one that inflates beyond ``MAX_INFLATED`` raises ``BodyTooLarge`` (413). It
is inflated as a stream that stops at the cap, so a gzip bomb (400 KB that inflates to 400 MB)
never takes more memory than the cap. In NDJSON a single unreadable line only rejects that
item, as it has its own index. So does an item holding a lone surrogate (JSON ``"\\ud800"``):
Python parses it into a string no UTF-8 codec can write, so it could be neither stored nor shown.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, List, Optional

_loads = json.loads
_dumps = json.dumps

MAX_INFLATED = 64 * 1024 * 1024  # the same cap as for the body on the wire
_STEP = 1024 * 1024  # inflate at most this much per step
TOO_DEEP = "nested too deeply to parse"


class BodyError(ValueError):
    """The request body is unreadable as a whole."""

    status = 400


class BodyTooLarge(BodyError):
    """The body inflates to more than ``MAX_INFLATED`` bytes."""

    status = 413


def loads(text: str) -> object:
    """``json.loads`` that raises ``ValueError`` for nesting deeper than the parser's stack,
    where ``json`` raises ``RecursionError`` (any JSON the emulator reads goes through here)."""
    try:
        return _loads(text)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


def not_unicode(text: str) -> Optional[str]:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate), or ``None`` when it can.
    Costs one ``isascii()`` for the usual ASCII text."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return "a string holds a lone surrogate (U+%04X), which is not valid Unicode" % ord(
            exc.object[exc.start])
    return None


def loads_unicode(text: str) -> object:
    """:func:`loads` for a body read as a whole (a Live Metrics post, the control API): also
    ``ValueError`` when a string in it holds a lone surrogate, which could be neither kept nor
    answered as UTF-8."""
    value = loads(text)
    # ``text`` came from UTF-8: only a "\\u" escape can have put a surrogate in ``value``.
    error = not_unicode(_dumps(value, ensure_ascii=False)) if "\\u" in text else None
    if error is not None:
        raise ValueError(error)
    return value


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    """Inflate ``body`` (every gzip member when ``wbits`` says gzip) in steps, stopping as soon
    as the output would exceed ``limit``."""
    out: List[bytes] = []
    total = 0
    data = body
    while True:
        inflater = zlib.decompressobj(wbits)
        while data:
            chunk = inflater.decompress(data, _STEP)
            total += len(chunk)
            if total > limit:
                raise BodyTooLarge("body inflates to more than %d MiB" % (limit // (1024 * 1024)))
            out.append(chunk)
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
        tail = inflater.flush()
        total += len(tail)
        if total > limit:
            raise BodyTooLarge("body inflates to more than %d MiB" % (limit // (1024 * 1024)))
        out.append(tail)
        if not inflater.eof:
            raise EOFError("compressed data ended before the end-of-stream marker")
        # gzip allows several members one after another, and zero padding after the last.
        data = inflater.unused_data.lstrip(b"\x00") if wbits > 15 else inflater.unused_data
        if not data:
            return b"".join(out)
        if wbits <= 15:
            raise EOFError("data after the end of the deflate stream")


@dataclass
class RawItem:
    """One item of a batch: the parsed JSON (``None`` when its line did not parse), its JSON
    text for storage, and the parse error, if any."""

    value: Any
    text: str
    error: Optional[str] = None


def decompress(body: bytes, content_encoding: Optional[str], limit: int = MAX_INFLATED) -> bytes:
    """Undo ``Content-Encoding`` (gzip or deflate; gzip magic is honoured without the header
    too), refusing output beyond ``limit`` bytes with ``BodyTooLarge``."""
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in ("gzip", "x-gzip") or (not encoding and body[:2] == b"\x1f\x8b"):
            return _inflate(body, 16 + zlib.MAX_WBITS, limit)
        if encoding == "deflate":
            try:
                return _inflate(body, zlib.MAX_WBITS, limit)
            except zlib.error:  # raw deflate without the zlib header
                return _inflate(body, -zlib.MAX_WBITS, limit)
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
            values = loads(stripped)
        except ValueError as exc:
            raise BodyError("body is not valid JSON: %s" % exc) from None
        if not isinstance(values, list):  # e.g. "[1] [2]" cannot happen, kept for safety
            raise BodyError("body is not a JSON array")
        # One re-serialisation per item: the store keeps each envelope's own JSON text.
        return [_reserialized(v) for v in values]
    lines = [line for line in stripped.split("\n") if line.strip()]
    items: List[RawItem] = []
    for line in lines:
        line = line.strip()
        try:
            value = loads(line)
        except ValueError as exc:
            items.append(RawItem(None, line, "item: not valid JSON: %s" % exc))
            continue
        # The line itself is valid UTF-8; only a "\\u" escape can put a surrogate in the value.
        error = not_unicode(_dumps(value, ensure_ascii=False)) if "\\u" in line else None
        items.append(RawItem(None, line, "item: " + error) if error else RawItem(value, line))
    if all(item.error for item in items):
        # Nothing at all parsed: this is not NDJSON, the body is unreadable.
        raise BodyError("body is not valid JSON: %s" % items[0].error.split(": ", 2)[-1])
    return items


def _reserialized(value: Any) -> RawItem:
    try:
        text = _dumps(value, ensure_ascii=False)
    except RecursionError:  # parsed, but one level too deep for the encoder
        return RawItem(None, "", "item: not valid JSON: " + TOO_DEEP)
    error = not_unicode(text)
    if error is not None:  # kept for /api/rejected with the surrogate escaped, as it came
        return RawItem(None, _dumps(value), "item: " + error)
    return RawItem(value, text)
