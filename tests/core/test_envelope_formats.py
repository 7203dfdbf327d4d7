"""Time and duration formats must equal the official exporter's to the character."""

from ai_core.envelopes.common import format_duration, format_time


def test_time_rounds_to_microseconds_and_drops_zero_fraction():
    assert format_time(1700000001123456789) == "2023-11-14T22:13:21.123457Z"
    assert format_time(1700000000000000000) == "2023-11-14T22:13:20Z"


def test_duration_has_millisecond_precision_and_rounds_halves_up():
    assert format_duration(499999) == "0.00:00:00.000"
    assert format_duration(500000) == "0.00:00:00.001"
    assert format_duration(59999500000) == "0.00:01:00.000"
    day = 86400 * 10**9
    assert format_duration(day + 2 * 3600 * 10**9 + 3 * 60 * 10**9 + 4 * 10**9 + 5 * 10**6) == "1.02:03:04.005"
