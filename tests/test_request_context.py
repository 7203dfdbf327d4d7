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
