"""Envelopes -> request body: a compact JSON array, gzip'd (the endpoint accepts gzip)."""

from __future__ import annotations

import json
import zlib
from typing import Any, Dict, Sequence

# Envelopes are trees of fresh dicts and lists, so the encoder's cycle bookkeeping (an id-keyed
# dict insert and delete per container) buys nothing; a cycle a telemetry processor might
# build still fails the batch, with RecursionError instead of ValueError.
_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=str, check_circular=False
).encode

# Level 1 gzip: telemetry JSON compresses ~8x even at the fastest level, and export runs on a
# background thread that should leave the CPU to the application.
_GZIP_LEVEL = 1


def encode_json(envelopes: Sequence[Dict[str, Any]]) -> bytes:
    """The JSON array body. ``default=str`` keeps a stray non-JSON value from failing a batch."""
    return _dumps(list(envelopes)).encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: gzip container
    return compressor.compress(data) + compressor.flush()


def encode_batch(envelopes: Sequence[Dict[str, Any]]) -> bytes:
    return gzip_bytes(encode_json(envelopes))
