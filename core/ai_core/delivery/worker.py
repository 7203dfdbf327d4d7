"""The one background thread that exports everything a process records.

Spans and log records are queued by the application's threads (an O(1) append, never a
wait) and exported in batches here; metrics are collected here on a timer; offline storage
is drained here. The thread starts on the first queued item, not at ``configure()``, so a
process that records nothing starts nothing (a gunicorn ``--preload`` master, a management
command). After ``fork`` the child gets a fresh, empty worker: the parent exports what it had
queued, and the child starts its own thread on its first item.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, List, Optional

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, set_value

from ai_core.diagnostics import DROPS
from ai_core.forking import ForkWatch

logger = logging.getLogger("ai_core")

MAX_BATCH = 512
SCHEDULE_S = 2.0  # how long an item waits at most before its batch is sent
DRAIN_EVERY_S = 5.0
METRICS_EVERY_S = 60.0


class Channel:
    """A bounded queue of one signal and the function that exports a batch of it."""

    def __init__(self, name: str, export: Callable[[List[Any]], Any], max_queue: int) -> None:
        self.name = name
        self.export = export
        self.max_queue = max_queue
        self.items: Deque[Any] = deque()


class ExportWorker:
    def __init__(
        self,
        schedule_s: float = SCHEDULE_S,
        drain: Optional[Callable[[], Any]] = None,
        has_backlog: Optional[Callable[[], bool]] = None,
        collect_metrics: Optional[Callable[[], Any]] = None,
        metrics_every_s: float = METRICS_EVERY_S,
    ) -> None:
        self._schedule_s = schedule_s
        self._drain = drain
        self._has_backlog = has_backlog
        self._collect_metrics = collect_metrics
        self._metrics_every_s = metrics_every_s
        self._channels: List[Channel] = []
        self._init_state()
        self._fork = ForkWatch(self._after_fork)

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = threading.Condition(threading.Lock())
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._flush_requested = 0
        self._flush_completed = 0
        self._next_drain = 0.0
        self._next_metrics = time.monotonic() + self._metrics_every_s

    def _after_fork(self) -> None:
        # Locks may have been held by a thread that does not exist in the child, and the
        # queued items are the parent's to export: start over, empty.
        self._init_state()
        for channel in self._channels:
            channel.items = deque()

    def add_channel(self, name: str, export: Callable[[List[Any]], Any], max_queue: int = 8192) -> Channel:
        channel = Channel(name, export, max_queue)
        self._channels.append(channel)
        return channel

    # -- application threads -------------------------------------------------------------------
    def submit(self, channel: Channel, item: Any) -> None:
        """Queue one item; called on the request path, so O(1) and never raises or blocks."""
        if self._stopping:
            DROPS.add("%s recorded after shutdown" % channel.name)
            return
        items = channel.items
        if len(items) >= channel.max_queue:
            DROPS.add("%s dropped: export queue full" % channel.name)
            return
        items.append(item)
        if self._thread is None or self._fork.forked:
            self.ensure_started()
        elif len(items) >= MAX_BATCH:
            self._wake.set()

    def ensure_started(self) -> None:
        self._fork.check()  # a fork the hooks did not see (fork() called from C code)
        if self._thread is not None or self._stopping:
            return
        # A timeout, not a plain ``with``: a SIGTERM handler that flushes may run while this
        # very thread is inside this block, and must not wait for itself forever.
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="ai_core-export", daemon=True)
                thread.start()
                self._thread = thread
        finally:
            self._lock.release()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export everything queued so far (and collect metrics); True if done in time."""
        if self._thread is None and not any(c.items for c in self._channels) and self._collect_metrics is None:
            return True
        self.ensure_started()
        if self._stopping:  # shut down: nothing more is queued, only the last cycle may be running
            return self._wait_stopped(timeout_s)
        with self._done:
            self._flush_requested += 1
            target = self._flush_requested
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        with self._done:
            while self._flush_completed < target:
                thread = self._thread
                if thread is None or not thread.is_alive():
                    # Stopped meanwhile: its last cycle exported everything that was queued.
                    return self._stopping
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done.wait(min(remaining, 0.1))  # re-check: the thread may end instead
        return True

    def _wait_stopped(self, timeout_s: float) -> bool:
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Flush, then stop the thread; whatever is still undelivered goes to offline storage."""
        self.flush(timeout_s)
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # -- the worker thread -----------------------------------------------------------------------
    def _run(self) -> None:
        # Every export runs here, ours and the OTLP exporters' alike: their HTTP calls (and
        # anything else they do) must never be traced by the instrumentations the app enabled.
        # Attached for the thread's whole life, which owns its own context.
        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        while True:
            self._wake.wait(self._schedule_s)
            self._wake.clear()
            with self._done:
                flush_target = self._flush_requested
            stopping = self._stopping
            try:
                self._export_queued(everything=stopping)
                now = time.monotonic()
                if self._collect_metrics is not None and (flush_target > self._flush_completed or now >= self._next_metrics or stopping):
                    self._next_metrics = now + self._metrics_every_s
                    self._collect_metrics()
                    self._export_queued()
                if self._drain is not None and not stopping and now >= self._next_drain:
                    settled = self._drain()
                    # While a backlog is being worked off, come back on the next cycle.
                    self._next_drain = now + (self._schedule_s if settled else DRAIN_EVERY_S)
            except Exception:  # the worker must survive anything an export does
                logger.warning("Application Insights export failed unexpectedly", exc_info=True)
            DROPS.report(due_only=not stopping)  # pending drop counts are said, once, in time
            with self._done:
                self._flush_completed = max(self._flush_completed, flush_target)
                self._done.notify_all()
            if stopping:
                return

    def _export_queued(self, everything: bool = False) -> None:
        """Export what each channel holds when its turn comes, one channel after the other.

        Only the items already queued (rounded up to whole batches): under steady load a busy
        channel is never empty, and exporting "until empty" would starve the channels after
        it, the metrics and the storage drain for as long as the load lasts. Items that
        arrive meanwhile wait for the next cycle, which ``submit`` starts at once when a full
        batch is waiting. ``everything``: until empty (the last cycle at shutdown).
        """
        for channel in self._channels:
            items = channel.items
            left = len(items)
            while items and (left > 0 or everything):
                batch = []
                while items and len(batch) < MAX_BATCH:
                    batch.append(items.popleft())
                left -= len(batch)
                try:
                    channel.export(batch)
                except Exception:
                    DROPS.add("%s lost: export raised" % channel.name, len(batch))
                    logger.debug("export of %s raised", channel.name, exc_info=True)

    @property
    def started(self) -> bool:
        return self._thread is not None and not self._fork.forked

    def start_if_backlog(self) -> None:
        """A restarted app must deliver what a crashed one left on disk, traffic or not."""
        try:
            if self._has_backlog is not None and self._has_backlog():
                self.ensure_started()
        except Exception:
            logger.debug("could not look at offline storage", exc_info=True)
