"""Envelopes -> JSON bytes, one item at a time -> the request body (a JSON array, gzip'd).

Each envelope is encoded on its own as soon as it is final (``encode_item``), and the sender
keeps those bytes, not the dict trees: a tree that lived for a whole 512-item batch was old
enough to be promoted by the garbage collector and made the older generations collect more
often (benchmarks/README.md). ``body`` joins encoded items into the array and compresses it.

The bytes are exactly ``json.dumps(envelope, ensure_ascii=True, separators=(",", ":"),
default=str)``: ASCII only (non-ASCII as ``\\uXXXX`` escapes, as the official exporter sends),
floats as Python's ``repr``, ``NaN``/``Infinity`` as the stdlib writes them, any other
non-JSON value as its ``str()``. orjson (compiled: ~0.6 us an envelope against the stdlib's
~7 on the benchmark machine) does the work where its output is provably that; its few
differences are repaired or detected in its output:

- non-ASCII text and DEL (``\\x7f``) are written raw by orjson: escaped afterwards, the way the
  stdlib escapes them (outside strings JSON has neither);
- NaN and infinities become ``null``, floats under 1e-4 are written ``0.00001`` or ``1e-7``
  where ``repr`` says ``1e-05``/``1e-07``: such output is re-encoded by the stdlib (a ``null``
  value, ``0.0000`` or a one-digit negative exponent anywhere sends the item that way; a string
  that merely contains such text costs only the slower path);
- what orjson refuses (integers beyond 64 bits, lone surrogates, non-string keys, nesting
  deeper than 254) and subclasses of float or tuple (the stdlib writes them as numbers and
  arrays, orjson would ask for ``str()``) go to the stdlib too.

One difference is left: a plain ``enum.Enum`` member (not an int or str enum) is written as its
value, where ``default=str`` gave ``"Color.RED"``; only a telemetry processor can put one there
(the conversion writes attribute values as they are or as their ``str()``, and the SDK accepts
no enum member as a span attribute value).

Without orjson (it is not installed on PyPy) every item takes the stdlib path: same bytes.

The float checks are ~2 of the ~3 us an envelope costs. ``encode_converted`` skips them for a
span's or log record's envelope straight from the conversion (no telemetry processor has seen
it) when its types show there is no float orjson writes otherwise (``_float_free``): the
exporters use it when no telemetry processors are configured (benchmarks/README.md, "Export
thread, 2026-12-06: converter fast path"). tests/delivery/test_encode_converted.py holds it
to the same bytes over the golden cases and random spans and records.
"""

from __future__ import annotations

import codecs
import json
import re
import time
import zlib
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

try:
    import orjson
except ImportError:  # pragma: no cover - PyPy, or an install without it
    orjson = None  # type: ignore[assignment]

Envelope = Dict[str, Any]

# Envelopes are trees of fresh dicts and lists, so the stdlib encoder's cycle bookkeeping (an
# id-keyed dict insert and delete per container) buys nothing; a cycle a telemetry processor
# might build raises RecursionError instead of ValueError.
_stdlib_dumps = json.JSONEncoder(
    ensure_ascii=True, separators=(",", ":"), default=str, check_circular=False
).encode

# The gzip of the request body: ISA-L's (the isal package, a dependency where it has wheels)
# when it is there, ~0.6 us an item against zlib's ~2.6 at its fastest level on the benchmark
# machine, with a smaller output (23 KB against 25 KB for a 512-item batch); else zlib.
# Level 1 either way: telemetry JSON compresses ~8x even at the fastest levels, and export runs
# on a background thread that should leave the CPU to the application.
try:
    from isal import isal_zlib as _gzip
except ImportError:  # another platform or interpreter: the standard library's zlib
    _gzip = zlib  # type: ignore[misc]
_GZIP_LEVEL = 1

# Items per compressed slice (~50 KB of JSON): the uncompressed body of a 512-item batch
# (~450 KB) never exists in one piece. One-piece bodies made the allocator map and unmap fresh
# pages for every batch, which cost about as much as the gzip itself.
_SLICE = 64

# A float orjson writes unlike repr: "0.0000..." (repr: "1e-05") or a one-digit negative
# exponent ("1e-7"; repr: "1e-07"); NaN and infinities: "null" as a value. Regexes that start
# with a literal: re's prefix search beats ``in`` on bytes here (the three checks take ~2.1 us
# an envelope against ~2.9 on the benchmark machine), and a regex that starts with a
# character class scans at Python speed (~10 us).
_NULL = re.compile(rb"null")
_SMALL_DECIMAL = re.compile(rb"0\.0000")
_ONE_DIGIT_EXPONENT = re.compile(rb"e-[0-9](?![0-9])")


def _unlike_stdlib(out: bytes) -> bool:
    """Whether orjson's ``out`` may hold a float the stdlib writes otherwise: NaN or an
    infinity (orjson: ``null`` as a value) or a float under 1e-4."""
    if _NULL.search(out) is not None and (b":null" in out or b"[null" in out or b",null" in out):
        return True
    if _SMALL_DECIMAL.search(out) is not None:
        return True
    match = _ONE_DIGIT_EXPONENT.search(out)
    while match is not None:
        start = match.start()
        if start and 48 <= out[start - 1] <= 57:  # a digit before the "e": a number
            return True
        match = _ONE_DIGIT_EXPONENT.search(out, start + 2)
    return False


_ESCAPES = "ai_core.json_ascii"


def _escape_non_ascii(error: UnicodeEncodeError) -> "tuple[str, int]":
    """Codec error handler: ``\\uXXXX`` escapes exactly as ``json.dumps(ensure_ascii=True)``
    writes them (lower-case hex, characters beyond the BMP as a surrogate pair)."""
    out = []
    for char in error.object[error.start:error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 | (code >> 10), 0xDC00 | (code & 0x3FF)))
        else:
            out.append("\\u%04x" % code)
    return "".join(out), error.end


codecs.register_error(_ESCAPES, _escape_non_ascii)


class _UseStdlib(Exception):
    """Raised from orjson's ``default``: a value the stdlib encodes differently from ``str()``."""


# The stdlib writes these (and their subclasses) natively; orjson hands some subclasses to
# ``default`` (a float or tuple subclass, e.g. numpy.float64 or a namedtuple).
_NATIVE = (str, int, float, list, tuple, dict)


def _default(value: Any) -> str:
    if isinstance(value, _NATIVE):
        raise _UseStdlib
    return str(value)


# Floats whose text must be repr's in the fast path's output (checked once, at import: an
# orjson release that wrote any of them otherwise would switch the fast path off).
_PROBE_FLOATS = (1.0, -0.0, 0.1, 1e-4, 0.00012, 1.5e16, 1e16, 1e22, 1.7976931348623157e308,
                 5e-324, 1e-10, 123456789.125, 9999999999999998.0, 1e15)


def _make_fast(check_floats: bool = True) -> Optional[Callable[[Any], bytes]]:
    """orjson with the stdlib's bytes, or None where orjson is missing or writes a probe float
    unlike ``repr``. ``check_floats=False``: for an envelope known to hold no float orjson
    writes unlike ``repr`` (:func:`encode_converted`): the checks are ~2 of its ~3 us."""
    if orjson is None:
        return None
    dumps = orjson.dumps
    option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # -> str()
    error = orjson.JSONEncodeError
    if any(dumps(x) != repr(x).encode("ascii") for x in _PROBE_FLOATS):
        return None
    unlike_stdlib = _unlike_stdlib if check_floats else None

    def fast(envelope: Any) -> bytes:
        try:
            out = dumps(envelope, default=_default, option=option)
        except error:
            return _stdlib_dumps(envelope).encode("ascii")
        if unlike_stdlib is not None and unlike_stdlib(out):
            return _stdlib_dumps(envelope).encode("ascii")
        if not out.isascii():
            out = out.decode("utf-8").encode("ascii", _ESCAPES)
        if b"\x7f" in out:
            out = out.replace(b"\x7f", b"\\u007f")
        return out

    return fast


def _stdlib_item(envelope: Any) -> bytes:
    return _stdlib_dumps(envelope).encode("ascii")


encode_item: Callable[[Any], bytes] = _make_fast() or _stdlib_item
encode_item.__doc__ = """One envelope as compact, ASCII-only JSON bytes (see the module docstring).

Raises what ``json.dumps`` raises for it (e.g. RecursionError for a cycle)."""


_fast_float_free = _make_fast(check_floats=False)
_INF = float("inf")
_join = "".join


def _same_as_repr(value: Any) -> bool:
    """Whether orjson writes this float exactly as ``repr`` does: a finite float that is 0 or
    at least 1e-4 in magnitude (the probes above check the formats at import)."""
    return value.__class__ is float and (
        1e-4 <= value < _INF or -_INF < value <= -1e-4 or value == 0.0
    )


# baseData fields a span's or log record's conversion may fill with an attribute's raw value
# (the others it writes itself: ``str``, ``int`` or ``bool``), by base type.
_RAW_FIELDS = {
    "RequestData": ("name", "url", "source"),
    "RemoteDependencyData": ("name", "type", "data", "target"),
    "MessageData": ("message",),
    "ExceptionData": (),
    "EventData": ("name",),
}


def _float_free(envelope: Envelope) -> bool:
    """Whether an envelope as ``ai_core.envelopes`` built it for a span or a log record holds
    no float that orjson would write otherwise than ``repr``.

    Relies on what that conversion guarantees, and so is only for its envelopes (never after
    a telemetry processor): ``properties`` values are ``str`` (a key orjson refuses sends the
    item to the stdlib anyway), ``exceptions`` entries hold ``str`` and ``bool``, and of the
    other fields only those of ``_RAW_FIELDS`` may hold an attribute's raw value; those, the
    tags, ``sampleRate`` and ``measurements`` are looked at (an unknown base type: every field).
    """
    rate = envelope.get("sampleRate")
    if rate is not None and not _same_as_repr(rate):
        return False
    try:
        _join(envelope["tags"].values())  # all str: the join fails on anything else
    except TypeError:
        return False
    body = envelope["data"]
    data = body["baseData"]
    measurements = data.get("measurements")
    if measurements:
        for number in measurements.values():
            if not _same_as_repr(number):
                return False
    fields = _RAW_FIELDS.get(body["baseType"])
    if fields is None:
        for key, value in data.items():
            cls = value.__class__
            if cls is str or cls is int or cls is bool or key == "properties" or key == "measurements":
                continue
            if (cls is list and key == "exceptions") or _same_as_repr(value):
                continue
            return False
        return True
    for key in fields:
        value = data.get(key)
        if value is not None and value.__class__ is not str:
            return False
    return True


def encode_converted(envelope: Envelope) -> bytes:
    """:func:`encode_item` for a span's or log record's envelope straight from the conversion
    (no telemetry processor has seen it): the same bytes, without the float checks when
    :func:`_float_free` shows they cannot find anything (nearly every item)."""
    if _fast_float_free is not None and _float_free(envelope):
        return _fast_float_free(envelope)
    return encode_item(envelope)


def _array_pieces(items: Sequence[bytes]) -> Iterator[bytes]:
    """Pieces whose concatenation is the JSON array of the encoded ``items``."""
    count = len(items)
    if count <= _SLICE:
        yield b"[" + b",".join(items) + b"]"
        return
    for start in range(0, count, _SLICE):
        if start:
            time.sleep(0)  # hand the GIL back to the app between slices (ai_core.delivery.pacing)
        piece = b",".join(items[start:start + _SLICE])
        if start == 0:
            yield b"[" + piece
        elif start + _SLICE >= count:
            yield b"," + piece + b"]"
        else:
            yield b"," + piece


def body(items: Sequence[bytes]) -> bytes:
    """The gzip'd JSON array of encoded items (the request body), compressed slice by slice."""
    compressor = _gzip.compressobj(_GZIP_LEVEL, _gzip.DEFLATED, 31)  # wbits 31: gzip container
    out = [compressor.compress(piece) for piece in _array_pieces(items)]
    out.append(compressor.flush())
    return b"".join(out)


def encode_json(envelopes: Sequence[Envelope]) -> bytes:
    """The JSON array of envelopes, uncompressed: the bytes of one ``json.dumps`` of the list."""
    return b"".join(_array_pieces([encode_item(e) for e in envelopes]))


def encode_batch(envelopes: Sequence[Envelope]) -> bytes:
    """The gzip'd JSON array of envelopes (for callers that hold dicts: ``doctor``, benchmarks)."""
    return body([encode_item(e) for e in envelopes])
