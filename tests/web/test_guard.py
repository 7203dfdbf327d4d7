"""A failure inside our own code on a request path is counted, never raised into the request."""

import pytest

from ai_core.diagnostics import DROPS
from ai_core.web.guard import guard, guarded


def _count(fragment):
    return sum(n for k, n in DROPS.totals().items() if fragment in k)


def test_guarded_block_swallows_and_counts_the_error():
    before = _count("while enriching the span (ZeroDivisionError)")
    reached = []
    with guarded("enriching the span"):
        reached.append(1)
        1 / 0
        reached.append(2)  # pragma: no cover
    assert reached == [1]
    assert _count("while enriching the span (ZeroDivisionError)") == before + 1


def test_guard_decorator_returns_the_default_on_failure():
    @guard("reading a header", default="fallback")
    def read(fail):
        if fail:
            raise KeyError("x")
        return "value"

    assert read(False) == "value"
    assert read(True) == "fallback"


def test_interrupts_are_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        with guarded("anything"):
            raise KeyboardInterrupt
