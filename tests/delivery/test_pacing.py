"""Export work hands the GIL back to the app every few items (ai_core.delivery.pacing).

What our code promises is that it *offers* the interpreter to other threads between groups of
items; when a waiting thread then gets a CPU is the operating system's business. So these
tests never time a wake-up: one counts the hand-backs directly, the other removes the
interpreter's own forced switches (a switch interval of minutes) so that the app thread can
run during the export loop only through our hand-backs, and counts that it did.
"""

import itertools
import sys
import threading
import time
import types

import pytest

from ai_core.delivery import pacing
from ai_core.delivery.pacing import EVERY, paced

ENOUGH_TURNS = 20  # the app got in between groups this often: hand-backs work
MAX_GROUPS = 20_000  # on an idle box the app gets in at ~every group, under load at 1 in 50


def test_paced_yields_every_item_in_order():
    assert list(paced(range(100), every=7)) == list(range(100))


def test_the_export_loop_hands_back_once_after_every_group(monkeypatch):
    """Counted, not timed: one zero-length sleep (which releases the GIL) per EVERY items."""
    consumed = 0
    hand_backs = []

    def sleep(seconds):
        hand_backs.append((consumed, seconds))
        time.sleep(seconds)

    monkeypatch.setattr(pacing, "time", types.SimpleNamespace(sleep=sleep))
    for _ in paced(range(EVERY * 10 + 5)):
        consumed += 1
    assert hand_backs == [(EVERY * group, 0) for group in range(1, 11)]


@pytest.fixture
def only_voluntary_switches():
    """While set, a thread holding the GIL keeps it until it releases it itself."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(300.0)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _groups_the_app_ran_between(consume, max_groups: int) -> int:
    """How many groups of EVERY items another Python thread (the app) ran between, stopping at
    ENOUGH_TURNS or after ``max_groups`` groups (counted in items, not time).

    The app thread counts and releases the GIL after each count, as a request thread does
    between its socket reads, so it never holds the export side up. With the switch interval
    out of the way, the count moves during the loop only if the loop itself lets go of the GIL.
    """
    state = {"count": 0, "stop": False}
    running = threading.Event()

    def app() -> None:
        running.set()
        while not state["stop"]:
            state["count"] += 1
            time.sleep(0)

    thread = threading.Thread(target=app, daemon=True)
    thread.start()
    assert running.wait(60)
    turns, last = 0, state["count"]
    try:
        for i, _ in enumerate(consume(itertools.islice(itertools.count(), EVERY * max_groups))):
            if i % EVERY == EVERY - 1:
                now = state["count"]
                turns += now != last
                last = now
                if turns >= ENOUGH_TURNS:
                    break
    finally:
        state["stop"] = True
        thread.join(60)
    return turns


def test_the_app_runs_between_groups_of_exported_items(only_voluntary_switches):
    assert _groups_the_app_ran_between(paced, MAX_GROUPS) >= ENOUGH_TURNS


def test_without_pacing_the_app_would_not_run_until_the_switch_interval(only_voluntary_switches):
    # The same measurement over a plain iterator: the control that shows the test can fail.
    assert _groups_the_app_ran_between(iter, 1_000) == 0
