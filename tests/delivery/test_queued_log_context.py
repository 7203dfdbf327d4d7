"""A queued log record does not keep the request it was written in alive until its export."""

import gc
import logging
import weakref

from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider

from ai_core.delivery.handoff import QueueLogRecordProcessor
from ai_core.delivery.worker import ExportWorker


class _SeesContext(LogRecordProcessor):
    """A processor after ours (Live Metrics, a user's): it must still see the record as written."""

    def __init__(self):
        self.contexts = []

    def on_emit(self, log_record):
        self.contexts.append(log_record.log_record.context)

    emit = on_emit

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


def test_a_queued_record_keeps_its_ids_but_not_the_span_it_was_written_in():
    exported = []
    worker = ExportWorker(schedule_s=3600)  # nothing is exported until the flush below
    channel = worker.add_channel("logs", exported.extend)
    after = _SeesContext()
    provider = LoggerProvider()
    provider.add_log_record_processor(QueueLogRecordProcessor(worker, channel))
    provider.add_log_record_processor(after)
    logger = logging.getLogger("test_queued_log_context")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("GET /orders") as span:
            logger.warning("stock low")
            ids = (span.context.trace_id, span.context.span_id)
        assert after.contexts[0] is not None  # the next processor saw the record's context
        after.contexts.clear()
        ended = weakref.ref(span)
        del span
        gc.collect()
        assert len(channel.items) == 1  # still waiting for its batch
        assert ended() is None, "the queued log record keeps the request's span alive"
        assert worker.flush(10)
        record = exported[0].log_record
        assert (record.trace_id, record.span_id) == ids
        assert record.body == "stock low"
    finally:
        logger.removeHandler(handler)
        worker.shutdown(5)


def test_the_queued_copy_is_what_copy_copy_makes_and_other_classes_use_copy_copy():
    import copy

    from ai_core.delivery.handoff import _shallow_copy

    class Record:  # a __dict__ class without hooks, as the SDK's records are
        def __init__(self):
            self.body, self.attributes = "stock low", {"sku": 7}

    class Slotted:
        __slots__ = ("body",)

    class Hooked(Record):
        def __copy__(self):
            twin = Record()
            twin.body = "copied by its hook"
            return twin

    original = Record()
    twin = _shallow_copy(original)
    assert twin is not original and type(twin) is Record and vars(twin) == vars(copy.copy(original))
    assert twin.attributes is original.attributes  # shallow, like copy.copy
    twin.body = "changed"
    assert original.body == "stock low"
    slotted = Slotted()
    slotted.body = "kept in a slot"
    assert _shallow_copy(slotted).body == "kept in a slot"
    assert _shallow_copy(Hooked()).body == "copied by its hook"
