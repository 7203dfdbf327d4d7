"""A failure inside our own code on a request path is counted, never raised into the request;
the first one of each guarded place is logged with its traceback."""

import logging
import traceback

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


def test_the_first_failure_of_a_place_is_logged_with_its_traceback_later_ones_only_counted(caplog):
    label = "parsing a header for the traceback test"

    def fail():
        {}["missing"]

    with caplog.at_level(logging.DEBUG, logger="ai_core"):
        for _ in range(3):
            with guarded(label):
                fail()
    traced = [r for r in caplog.records if label in r.getMessage() and r.exc_info]
    assert len(traced) == 1
    assert traced[0].levelno == logging.DEBUG
    assert "in fail" in "".join(traceback.format_exception(*traced[0].exc_info))
    assert _count("while %s (KeyError)" % label) == 3


def test_the_request_layer_does_not_guard_again_inside_the_adapters_guard():
    """One guard per failure: the label the adapter gave is the one counted (no inner guard
    of the request layer swallows it first under a label of its own)."""
    from ai_core.options import Options
    from ai_core.telemetry import Telemetry
    from ai_core.web.setup import AppRequestRules
    from ai_core.web.user import UserResolver

    web = AppRequestRules(Telemetry(Options(), enabled=False), Options(), UserResolver(False))
    web._exclusion = None  # breaks excludes() the way a bug in it would
    before = _count("while matching the route for the nesting test (AttributeError)")
    with guarded("matching the route for the nesting test"):
        web.excludes("/x", ())
    assert _count("while matching the route for the nesting test (AttributeError)") == before + 1
