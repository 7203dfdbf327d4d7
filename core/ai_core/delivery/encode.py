"""Envelopes -> request body: a compact JSON array, gzip'd (the endpoint accepts gzip).

The array is encoded in slices of ``_SLICE`` envelopes, and ``encode_batch`` compresses each
slice as it comes, so the uncompressed body of a 512-item batch (~450 KB) never exists in one
piece. Besides the memory, that is faster: one-piece bodies are large enough that the
allocator maps and unmaps fresh pages for every batch, and those page faults cost about as
much as the gzip itself. The bytes are the same as ``json.dumps`` of the whole list.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any, Dict, Iterator, List, Sequence

# ASCII-only output (non-ASCII as \uXXXX), as the official exporter sends: it is also the
# encoder's fastest path. Envelopes are trees of fresh dicts and lists, so the encoder's cycle bookkeeping (an id-keyed
# dict insert and delete per container) buys nothing; a cycle a telemetry processor might
# build still fails the batch, with RecursionError instead of ValueError.
_dumps = json.JSONEncoder(
    ensure_ascii=True, separators=(",", ":"), default=str, check_circular=False
).encode

# Level 1 gzip: telemetry JSON compresses ~8x even at the fastest level, and export runs on a
# background thread that should leave the CPU to the application.
_GZIP_LEVEL = 1

# Envelopes per slice: ~50 KB of JSON for typical span envelopes.
_SLICE = 64


def _json_slices(envelopes: Sequence[Dict[str, Any]]) -> Iterator[bytes]:
    """UTF-8 pieces whose concatenation is the compact JSON array of ``envelopes``.

    ``default=str`` keeps a stray non-JSON value from failing a batch.
    """
    items: List[Dict[str, Any]] = envelopes if envelopes.__class__ is list else list(envelopes)
    count = len(items)
    if count <= _SLICE:
        yield _dumps(items).encode("utf-8")
        return
    for start in range(0, count, _SLICE):
        if start:
            time.sleep(0)  # hand the GIL back to the app between slices (ai_core.delivery.pacing)
        text = _dumps(items[start:start + _SLICE])  # "[a,b,c]"
        if start == 0:
            piece = text[:-1]  # "[a,b,c"
        elif start + _SLICE >= count:
            piece = "," + text[1:]  # ",x,y]"
        else:
            piece = "," + text[1:-1]  # ",d,e,f"
        yield piece.encode("utf-8")


def encode_json(envelopes: Sequence[Dict[str, Any]]) -> bytes:
    """The JSON array body, uncompressed."""
    return b"".join(_json_slices(envelopes))


def encode_batch(envelopes: Sequence[Dict[str, Any]]) -> bytes:
    """The gzip'd JSON array body, compressed slice by slice."""
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: gzip container
    out = [compressor.compress(piece) for piece in _json_slices(envelopes)]
    out.append(compressor.flush())
    return b"".join(out)
