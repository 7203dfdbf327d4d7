"""The export worker: lazy, bounded, fork-safe, and never breaks the app's thread."""

import logging
import os
import threading
import time

from ai_core.diagnostics import DROPS, DropCounter
from ai_core.delivery.worker import ExportWorker


def test_no_thread_until_the_first_item_then_exactly_one():
    exported = []
    worker = ExportWorker(schedule_s=0.05)
    channel = worker.add_channel("spans", exported.extend)
    before = set(threading.enumerate())
    assert not worker.started
    worker.submit(channel, "a")
    worker.submit(channel, "b")
    assert worker.started
    # Compared as sets: threads of earlier tests (emulator handlers, export workers) may end
    # meanwhile on a loaded machine, which a thread count would take for a missing thread.
    started = [t for t in threading.enumerate() if t not in before and t.name == "ai_core-export"]
    assert started == [worker._thread]
    assert worker.flush(5)
    assert exported == ["a", "b"]
    worker.shutdown(5)


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    worker = ExportWorker(schedule_s=60)
    gate = threading.Event()
    channel = worker.add_channel("spans", lambda batch: gate.wait(120), max_queue=10)
    before = DROPS.totals().get("spans dropped: export queue full", 0)
    started = time.monotonic()
    for i in range(25):
        worker.submit(channel, i)
    assert time.monotonic() - started < 60  # never waited (a blocked submit would wait out the 120 s export)
    assert DROPS.totals()["spans dropped: export queue full"] - before >= 15
    gate.set()
    worker.shutdown(5)


def test_an_export_that_raises_is_counted_and_the_worker_survives():
    calls = []

    def export(batch):
        calls.append(list(batch))
        if len(calls) == 1:
            raise RuntimeError("boom")

    worker = ExportWorker(schedule_s=0.05)
    channel = worker.add_channel("logs", export)
    before = DROPS.totals().get("logs lost: export raised", 0)  # a process-wide counter: count the change
    worker.submit(channel, 1)
    assert worker.flush(5)
    assert DROPS.totals().get("logs lost: export raised", 0) == before + 1  # the one item of the failed batch
    worker.submit(channel, 2)
    assert worker.flush(5)
    assert calls == [[1], [2]]
    assert DROPS.totals().get("logs lost: export raised", 0) == before + 1  # the good batch counts nothing
    worker.shutdown(5)


def test_drops_are_logged_once_per_interval_not_in_a_loop(caplog):
    counter = DropCounter(interval_s=60, log=logging.getLogger("ai_core.test_drops"))
    with caplog.at_level(logging.WARNING, logger="ai_core.test_drops"):
        for _ in range(1000):
            counter.add("spans dropped: export queue full")
    assert len(caplog.records) == 1
    assert counter.totals() == {"spans dropped: export queue full": 1000}


def test_after_fork_the_child_starts_empty_and_exports_its_own_items():
    read_fd, write_fd = os.pipe()
    gate = threading.Event()
    exporting = threading.Event()
    exported = []

    def export(batch):
        exporting.set()
        gate.wait(60)
        exported.extend(batch)

    worker = ExportWorker(schedule_s=0.05)
    channel = worker.add_channel("spans", export)
    worker.submit(channel, "parent-1")  # the parent's thread is busy exporting it...
    assert exporting.wait(60)
    worker.submit(channel, "parent-2")  # ...and this one is still queued at fork time
    pid = os.fork()
    if pid == 0:  # child
        try:
            gate.set()
            worker.submit(channel, "child-1")
            ok = worker.flush(5)
            os.write(write_fd, ("%s %s" % (ok, ",".join(exported))).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    result = os.read(read_fd, 1000).decode()
    os.close(read_fd)
    gate.set()
    worker.flush(5)
    worker.shutdown(5)
    assert result == "True child-1"  # the parent's queued item is not exported twice
    assert exported == ["parent-1", "parent-2"]


def test_force_flush_after_shutdown_returns_at_once_instead_of_waiting_out_its_timeout():
    # The SDK providers, the log handler at interpreter exit and user code may all flush
    # again after telemetry was shut down: that must not hang the caller for the timeout.
    exported = []
    worker = ExportWorker(schedule_s=0.05)
    channel = worker.add_channel("spans", exported.extend)
    worker.submit(channel, "a")
    worker.shutdown(5)
    assert exported == ["a"]
    started = time.monotonic()
    assert worker.flush(10) is True
    assert time.monotonic() - started < 2


def test_drops_after_a_report_are_said_when_the_interval_has_passed(caplog):
    now = [1000.0]  # an injected clock: the rule is about the interval, not about this machine's speed
    counter = DropCounter(interval_s=60, log=logging.getLogger("ai_core.test_late_drops"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="ai_core.test_late_drops"):
        counter.add("first")  # reported at once
        now[0] += 59
        counter.add("late", 3)  # within the interval: held back...
        counter.report(due_only=True)
        assert len(caplog.records) == 1
        now[0] += 1
        counter.report(due_only=True)  # ...and said by the worker's periodic call once it has passed
    assert len(caplog.records) == 2
    assert "3 late" in caplog.records[1].getMessage()
