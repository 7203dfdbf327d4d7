"""The request-context registry follows the request rate, not its size cap."""

from ai_core.request_context import RequestContext, RequestContextRegistry


class _Clock:
    """A monotonic clock the test moves: a slow machine cannot make a 'just ended' request
    look old (or the reverse)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_contexts_of_ended_requests_are_forgotten_after_the_grace_period():
    clock = _Clock()
    registry = RequestContextRegistry(max_entries=1000, grace_s=10, clock=clock)
    ended = RequestContext(operation_name="GET /a")
    ended.ended_at = clock.now
    registry.put(1, ended)
    registry.put(11, 1)  # a child of request 1
    running = RequestContext(live_span=None, operation_name="GET /b")
    registry.put(2, running)
    registry.put(21, 2)
    for step in range(4):  # 9.6 s: the request ended less than the grace period ago
        clock.now += 2.4
        registry.put(100 + step, RequestContext(operation_name="GET /c"))
    assert registry.get(1) is ended and registry.get(11) is ended  # children converted late still find it
    for step in range(8):  # 19.2 s more: two rotations past the grace period
        clock.now += 2.4
        registry.put(200 + step, RequestContext(operation_name="GET /d"))
    assert registry.get(1) is None and registry.get(11) is None
    assert registry.get(2) is running and registry.get(21) is running  # a request still running stays
    assert registry.get(207) is not None
    assert len(registry) < 20  # the ended ones without a running request were dropped


def test_a_request_ended_through_the_processor_is_kept_as_plain_values():
    """What the registry keeps after a request ended: its values, not the span or an object
    the garbage collector would keep visiting; children and log records still find them."""
    import gc

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from ai_core.request_context import RequestContextSpanProcessor

    clock = _Clock()
    registry = RequestContextRegistry(clock=clock)
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(RequestContextSpanProcessor(registry, lambda span: "GET /x"))
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("GET", kind=SpanKind.SERVER,
                                      attributes={"client.address": "203.0.113.9", "enduser.id": "bob"}) as server:
        with tracer.start_as_current_span("query", kind=SpanKind.CLIENT) as child:
            with tracer.start_as_current_span("inner", kind=SpanKind.INTERNAL) as grandchild:
                assert registry.get(grandchild.get_span_context().span_id)._span is server  # live while it runs
    server_id = server.get_span_context().span_id
    stored = registry._young[server_id]
    assert stored.__class__ is tuple and stored[:4] == ("GET /x", "203.0.113.9", "bob", None)
    gc.collect()
    assert not gc.is_tracked(stored)
    for span in (server, child, grandchild):
        ctx = registry.get(span.get_span_context().span_id)
        assert (ctx.operation_name, ctx.client_ip, ctx.auth_user_id, ctx._span) == ("GET /x", "203.0.113.9", "bob", None)
    provider.shutdown()


def test_the_size_cap_still_bounds_requests_that_never_end():
    registry = RequestContextRegistry(max_entries=10, grace_s=60)
    for i in range(25):
        registry.put(i, RequestContext(operation_name="x"))
    assert len(registry) <= 10
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


def test_a_service_calling_itself_keeps_each_request_s_children_apart():
    """One trace, two requests served by this process: A calls B (itself) over HTTP, then A
    makes one more call after B has ended. That late call belongs to A, not to B."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

    from ai_core.envelopes.spans import request_operation_name, span_to_envelopes
    from ai_core.request_context import RequestContextSpanProcessor

    registry = RequestContextRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "shop"}), shutdown_on_exit=False)
    provider.add_span_processor(RequestContextSpanProcessor(registry, request_operation_name))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")

    def server_attrs(route):
        return {"http.request.method": "GET", "url.path": route, "url.scheme": "http",
                "server.address": "shop", "http.route": route, "http.response.status_code": 200}

    def client_attrs(path):
        return {"http.request.method": "GET", "url.full": "http://shop" + path, "server.address": "shop"}

    with tracer.start_as_current_span("GET /outer", kind=SpanKind.SERVER, attributes=server_attrs("/outer")):
        with tracer.start_as_current_span("call inner", kind=SpanKind.CLIENT, attributes=client_attrs("/inner")) as c1:
            # The inner request arrives over HTTP: its parent is the remote view of c1.
            remote = SpanContext(c1.get_span_context().trace_id, c1.get_span_context().span_id, is_remote=True,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED))
            incoming = trace.set_span_in_context(NonRecordingSpan(remote))
            with tracer.start_as_current_span("GET /inner", context=incoming, kind=SpanKind.SERVER,
                                              attributes=server_attrs("/inner")):
                with tracer.start_as_current_span("inner db", kind=SpanKind.CLIENT,
                                                  attributes=client_attrs("/db")):
                    pass
        with tracer.start_as_current_span("late call", kind=SpanKind.CLIENT, attributes=client_attrs("/late")):
            pass

    spans = {s.name: s for s in exporter.get_finished_spans()}
    name = lambda span: span_to_envelopes(span, "ikey", registry)[0]["tags"]["ai.operation.name"]  # noqa: E731
    assert name(spans["late call"]) == "GET /outer"
    assert name(spans["call inner"]) == "GET /outer"
    assert name(spans["inner db"]) == "GET /inner"
    assert name(spans["GET /inner"]) == "GET /inner" and name(spans["GET /outer"]) == "GET /outer"
    provider.shutdown()
