"""Each envelope is encoded on its own by the compiled encoder (core/ai_core/delivery/encode.py),
and the bytes must be exactly what ``json.dumps(..., ensure_ascii=True, separators=(",", ":"),
default=str)`` gives: the golden comparisons, the storage format and the request body rely on
it. Checked over random envelope-shaped data (hypothesis) and on the values where the compiled
encoder writes otherwise by itself."""

from __future__ import annotations

import collections
import datetime
import decimal
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_core.delivery import encode
from ai_core.delivery.encode import encode_item


def stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).encode()


Point = collections.namedtuple("Point", "x y")


class Ratio(float):
    """A float subclass, as numpy.float64 is."""


class Opaque:
    def __str__(self) -> str:
        return "opaque é"


# Text with everything a user's data can hold: non-ASCII, astral characters, controls, DEL,
# line separators, quotes and backslashes, lone surrogates.
TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec=None, exclude_categories=())),
    st.text(alphabet=st.sampled_from(list('aé"\\\n\t\x00\x1f\x7f\x80\u2028\u2029😀東\ud800\udfff-e0.'))),
    st.sampled_from(["null", "1e-7", "0.00001", "x,null", "Cache-Control", "3e-5"]),
)
FLOATS = st.one_of(
    st.floats(),  # NaN and infinities included
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.sampled_from([1e-05, 1e-07, 1e-4, 1.0, 1e16, 1e22, 5e-324, -0.0, 0.1, 1.5e-9]),
)
INTS = st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**70), st.booleans())
STRAY = st.one_of(
    st.decimals(allow_nan=False),
    st.datetimes(),
    st.dates(),
    st.uuids(),
    st.builds(Point, INTS, FLOATS),
    st.builds(Ratio, st.floats()),
    st.just(Opaque()),
    st.binary(max_size=8),
    st.frozensets(st.integers(), max_size=3),
)
SCALARS = st.one_of(st.none(), INTS, FLOATS, TEXT)
VALUES = st.recursive(
    st.one_of(SCALARS, STRAY),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(TEXT, children, max_size=4),
        st.dictionaries(st.one_of(st.integers(), st.booleans(), st.none(), st.floats()), children, max_size=2),
    ),
    max_leaves=12,
)
ENVELOPES = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Microsoft.ApplicationInsights.Request", "Microsoft.ApplicationInsights.Message"]),
        "time": st.just("2026-12-06T03:00:00.000000Z"),
        "iKey": st.just("00000000-0000-0000-0000-000000000000"),
        "sampleRate": FLOATS,
        "tags": st.dictionaries(TEXT, TEXT, max_size=5),
        "data": st.fixed_dictionaries(
            {
                "baseType": st.just("RequestData"),
                "baseData": st.fixed_dictionaries(
                    {
                        "ver": st.just(2),
                        "id": TEXT,
                        "duration": st.just("0.00:00:00.000012"),
                        "success": st.booleans(),
                        "responseCode": st.one_of(TEXT, INTS),
                        "properties": st.dictionaries(TEXT, st.one_of(TEXT, SCALARS, STRAY), max_size=6),
                        "measurements": st.dictionaries(TEXT, FLOATS, max_size=4),
                        "extra": VALUES,
                    }
                ),
            }
        ),
    }
)


def test_the_compiled_encoder_is_in_use() -> None:
    """Otherwise the property below would only compare the stdlib with itself."""
    pytest.importorskip("orjson")
    assert encode_item is not encode._stdlib_item


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ENVELOPES)
def test_an_envelope_encodes_to_the_bytes_of_json_dumps(envelope: dict) -> None:
    assert encode_item(envelope) == stdlib(envelope)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_any_value_encodes_to_the_bytes_of_json_dumps(value: Any) -> None:
    assert encode_item(value) == stdlib(value)


@pytest.mark.parametrize(
    "value",
    [
        1e-05, 1e-07, 0.00012, 1e-4, 1e16, 1.2345678901234568e17, 5e-324, -0.0, 1.0,
        float("nan"), float("inf"), float("-inf"), [float("nan"), 1], 2**64, -(2**63) - 1, 10**30,
        "é", "😀", "\u2028", "\x7f", "\x00\x1f\n\t\b\f\r\"\\", "\ud800", "a\udfffb",
        {1: "int key"}, {None: 1, True: 2, 1.5: 3}, Point(1, 2.5), Ratio(1e-05),
        decimal.Decimal("1.10"), datetime.datetime(2026, 12, 6, 3, 4, 5, 6), uuid.UUID(int=7),
        b"raw", {1, 2}, Opaque(), {"nested": [{"deep": [1e-9, "ü", None, False]}]},
        "x" * 70000,
    ],
)
def test_values_the_compiled_encoder_writes_otherwise_still_match(value: Any) -> None:
    envelope = {"name": "x", "data": {"baseData": {"value": value}}}
    assert encode_item(envelope) == stdlib(envelope)


def test_the_body_is_the_json_array_of_the_items() -> None:
    items = [encode_item({"i": i, "t": "é"}) for i in range(3)]
    import zlib

    assert zlib.decompress(encode.body(items), 31) == b"[" + b",".join(items) + b"]"
    assert zlib.decompress(encode.body([]), 31) == b"[]"
