"""format_time / format_duration take shortcuts on the hot path (per-second cache, hand-rounded
microseconds, a sub-minute branch); they must agree with the plain ``datetime`` versions."""

from __future__ import annotations

import random

from ai_core.envelopes.common import _reference_time, format_duration, format_time


def _reference_duration(duration_ns: int) -> str:
    ms = (max(duration_ns, 0) + 500000) // 1000000
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return "%d.%02d:%02d:%02d.%03d" % (days, hours, minutes, seconds, ms)


def test_format_time_matches_datetime_rounding() -> None:
    rnd = random.Random(7)
    values = [0, 1, 499, 500, 1500, 2500, 10**9 - 1, 10**9, 1700000001123456789]
    for base in (0, 1_700_000_000 * 10**9, 4_000_000_000 * 10**9):
        values += [base + rnd.randrange(10**10) for _ in range(5000)]
        # around microsecond halves and whole seconds, where rounding and carrying happen
        values += [base + rnd.randrange(1, 10**4) * 10**9 + k for k in range(-1500, 1500)]
        values += [base + rnd.randrange(10**4) * 10**9 + rnd.randrange(10**6) * 1000 + 500 + k
                   for k in (-1, 0, 1) for _ in range(500)]
    for value in values:
        assert format_time(value) == _reference_time(value), value
    assert format_time(None) == "1970-01-01T00:00:00Z"


def test_format_duration_matches_the_general_form() -> None:
    rnd = random.Random(7)
    values = [-5, 0, 499999, 500000, 59_999_499_999, 59_999_500_000, 60 * 10**9]
    values += [rnd.randrange(10**14) for _ in range(5000)] + [rnd.randrange(10**11) for _ in range(5000)]
    for value in values:
        assert format_duration(value) == _reference_duration(value), value
