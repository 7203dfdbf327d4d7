"""Export work hands the GIL back to the app every few items (ai_core.delivery.pacing)."""

import threading

from ai_core.delivery.pacing import EVERY, paced


def _app_turns_during(consume) -> int:
    """How often another Python thread (the app) got to run while ``consume`` iterated.

    The app thread counts in a tight loop; the export side looks at the count after each
    group of EVERY items. Each group is a few microseconds of work, far below the interpreter's
    5 ms switch interval, so without a hand-back the app would almost never run in between.
    """
    state = {"count": 0, "stop": False}
    running = threading.Event()

    def app() -> None:
        running.set()
        while not state["stop"]:
            state["count"] += 1

    thread = threading.Thread(target=app, daemon=True)
    thread.start()
    running.wait(30)
    turns, last = 0, state["count"]
    try:
        for i, _ in enumerate(consume(range(EVERY * 100))):
            if i % EVERY == EVERY - 1:
                now = state["count"]
                turns += now != last
                last = now
    finally:
        state["stop"] = True
        thread.join(30)
    return turns


def test_paced_yields_every_item_in_order():
    assert list(paced(range(100), every=7)) == list(range(100))


def test_the_app_runs_between_groups_of_exported_items():
    assert _app_turns_during(paced) >= 50  # out of 100 groups


def test_without_pacing_the_app_would_wait_for_the_switch_interval():
    # The same measurement over a plain iterator: the control that shows the test can fail.
    assert _app_turns_during(iter) < 50
