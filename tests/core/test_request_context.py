"""The request-context registry follows the request rate, not its size cap."""

import time

from ai_core.request_context import RequestContext, RequestContextRegistry


def test_contexts_of_ended_requests_are_forgotten_after_the_grace_period():
    registry = RequestContextRegistry(max_entries=1000, grace_s=0.05)
    ended = RequestContext(operation_name="GET /a")
    ended.ended_at = time.monotonic()
    registry.put(1, ended)
    running = RequestContext(live_span=None, operation_name="GET /b")
    registry.put(2, running)
    assert registry.get(1) is ended  # children converted right after the request still find it
    time.sleep(0.1)
    registry.put(3, RequestContext(operation_name="GET /c"))
    assert registry.get(1) is None
    assert registry.get(2) is running and registry.get(3) is not None


def test_the_size_cap_still_bounds_requests_that_never_end():
    registry = RequestContextRegistry(max_entries=10, grace_s=60)
    for i in range(25):
        registry.put(i, RequestContext(operation_name="x"))
    assert len(registry) == 10
    assert registry.get(24) is not None and registry.get(0) is None


def _child_finishes(work) -> bool:
    """Fork while this thread holds a lock ``work`` needs; True if the child still gets through."""
    import os
    import threading

    pid = os.fork()
    if pid == 0:  # the child: the thread that held the lock does not exist here
        done = threading.Event()
        threading.Thread(target=lambda: (work(), done.set()), daemon=True).start()
        os._exit(0 if done.wait(5) else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def test_a_forked_child_can_record_requests_while_the_parent_was_registering_one():
    registry = RequestContextRegistry()
    with registry._lock:  # another request thread was inside put() at the moment of fork
        ok = _child_finishes(lambda: registry.put(1, RequestContext(operation_name="GET /")))
    assert ok


def test_a_forked_child_can_count_drops_while_the_parent_was_counting_one():
    from ai_core.diagnostics import DROPS

    with DROPS._lock:
        ok = _child_finishes(lambda: DROPS.add("test drop in a forked child"))
    assert ok
