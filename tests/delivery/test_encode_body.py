"""The request body is encoded in slices (core/ai_core/delivery/encode.py); whatever the batch size,
the bytes must be exactly ``json.dumps`` of the whole list, and the gzip body must inflate to
them."""

from __future__ import annotations

import json
import zlib
from datetime import datetime

import pytest

from ai_core.delivery.encode import _SLICE, encode_batch, encode_json


def _envelope(i: int) -> dict:
    return {
        "name": "Microsoft.ApplicationInsights.Request",
        "tags": {"ai.operation.id": "%032x" % i, "ai.cloud.role": "café ☕ 東京"},
        "data": {"baseData": {"id": i, "ok": i % 2 == 0, "when": datetime(2026, 11, 25), "x": 1.5,
                              "none": None, "list": [i, "a\"b\\c\n"]}, "baseType": "RequestData"},
    }


@pytest.mark.parametrize("count", [0, 1, _SLICE - 1, _SLICE, _SLICE + 1, 2 * _SLICE, 3 * _SLICE + 7])
def test_sliced_body_equals_one_dumps(count: int) -> None:
    envelopes = [_envelope(i) for i in range(count)]
    expected = json.dumps(envelopes, separators=(",", ":"), default=str).encode()
    assert encode_json(envelopes) == expected
    assert encode_json(tuple(envelopes)) == expected
    assert zlib.decompress(encode_batch(envelopes), 31) == expected
    assert json.loads(encode_json(envelopes)) == json.loads(json.dumps(envelopes, default=str))


def test_the_body_inflates_to_the_same_bytes_with_isal_and_with_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """ISA-L's gzip where the isal package is installed (a dependency on the platforms it has
    wheels for), the standard library's zlib elsewhere: any gzip reader gets the same JSON."""
    from ai_core.delivery import encode

    pytest.importorskip("isal")
    assert encode._gzip is not zlib  # the faster one is in use where installed
    envelopes = [_envelope(i) for i in range(3 * _SLICE + 7)]
    expected = json.dumps(envelopes, separators=(",", ":"), default=str).encode()
    with_isal = encode_batch(envelopes)
    monkeypatch.setattr(encode, "_gzip", zlib)
    with_zlib = encode_batch(envelopes)
    assert with_isal != with_zlib  # two different compressors really ran
    assert zlib.decompress(with_isal, 31) == zlib.decompress(with_zlib, 31) == expected
    import gzip

    assert gzip.decompress(with_isal) == expected
