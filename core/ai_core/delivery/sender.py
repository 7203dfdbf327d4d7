"""Deliver a batch of envelopes, or keep it: the one place that decides retry, storage or drop.

Runs only on the export worker thread. Envelopes are encoded to their JSON bytes one by one as
they arrive (``encode_envelopes``), after the telemetry processors ran; from there on the
batch, the 206 retry, the 413 split and offline storage hold those bytes, not dict trees (a
tree kept for a whole batch got promoted by the garbage collector: benchmarks/README.md).

A batch gets a few quick attempts in memory (with exponential backoff and jitter, honouring
``Retry-After``); what is still undelivered goes to offline storage, leased until the
endpoint is likely back. After a success, and on a timer, a few stored blobs are re-sent: a
few per drain, with a pause after a failure, so recovery does not trigger throttling again.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from ai_core.delivery.encode import body, encode_converted, encode_item
from ai_core.delivery.outcome import Verdict, judge, trim_envelope
from ai_core.delivery.storage import LocalStorage, StorageRefused
from ai_core.delivery.transport import TrackResponse, Transport
from ai_core.diagnostics import DROPS
from ai_core.forking import reset_lock_after_fork

logger = logging.getLogger("ai_core")

Envelope = Dict[str, Any]
Item = bytes  # one envelope's compact JSON (ai_core.delivery.encode)

# The ingestion service's limit per item: a larger envelope is trimmed before it is encoded
# for good (the dict is still at hand), instead of after the service refused it.
MAX_ITEM_BYTES = 64 * 1024

MAX_ATTEMPTS = 3  # in memory, per batch, before it goes to disk
BACKOFF_S = 0.5
MAX_INLINE_WAIT_S = 5.0  # a longer Retry-After is honoured through the storage lease instead
DRAIN_BLOBS = 8  # per drain, sent together as one request
DRAIN_PAUSE_S = 5.0  # after a stored blob failed again; doubles per failure up to the max
MAX_DRAIN_PAUSE_S = 30.0
STORED_LEASE_S = 5.0  # first retry of a freshly stored batch, unless Retry-After says more
DOWN_S = 5.0  # after a batch went to storage undelivered: one attempt per batch for this long


class LazyStorage:
    """Offline storage opened on first need: configure() must not touch the disk, and a
    storage directory that is refused is reported once, then telemetry goes on without it."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._storage: Optional[LocalStorage] = None
        self._refused = False
        self._lock = threading.Lock()

    def get(self) -> Optional[LocalStorage]:
        if self._storage is None and not self._refused:
            with self._lock:
                if self._storage is None and not self._refused:
                    try:
                        self._storage = LocalStorage(self.directory)
                    except (StorageRefused, OSError) as exc:
                        self._refused = True
                        logger.warning(
                            "Application Insights offline storage is off: %s. Telemetry is still "
                            "sent; set storage_directory to a private directory, or "
                            "disable_offline_storage=True to silence this.", exc,
                        )
        return self._storage

    def has_backlog(self) -> bool:
        """Cheap: a missing directory means no backlog, and is not created here.

        An existing one is opened (and so checked) right away, so a planted symlink or a
        directory of another user is reported when the app starts sending, not at the
        first outage.
        """
        if self._storage is None and not self._refused and not os.path.lexists(self.directory):
            return False
        storage = self.get()
        return storage is not None and storage.has_blobs()


class Sender:
    """Sends envelopes through a Transport, with retries, offline storage and draining."""

    def __init__(
        self,
        transport: Transport,
        storage: Optional[LazyStorage] = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.transport = transport
        self.storage = storage
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._drain_paused_until = 0.0
        self._drain_failures = 0
        # Set when a whole batch exhausted its in-memory retries (endpoint down or throttling):
        # until then each new batch gets one attempt and goes to storage if it fails, instead of
        # holding the export worker in backoff sleeps while the app's queues fill and drop.
        self._down_until = 0.0
        # Cleared at shutdown: a process being stopped has seconds, not a backoff schedule,
        # so each batch gets one attempt and the rest goes to offline storage at once.
        self.patient = True
        self._lock = threading.Lock()  # one batch on the wire at a time, whatever thread asks
        reset_lock_after_fork(self)  # the parent's export thread may hold it at fork time

    # -- sending -----------------------------------------------------------------------------
    def send(self, envelopes: Iterable[Envelope]) -> bool:
        """True when every item was delivered. Never raises.

        ``envelopes`` may be a generator: each envelope is encoded as it comes, so its dict
        tree is freed before the next one is built.
        """
        items = encode_envelopes(envelopes)
        if not items:
            return True
        patient = self.patient
        with self._lock:
            retry = patient and time.monotonic() >= self._down_until
            all_delivered = self._send_with_retries(items, retry)
        if all_delivered and patient:
            # The endpoint is evidently up: stop pausing and catch up on stored batches.
            self._down_until = 0.0
            self._drain_paused_until = 0.0
            self._drain_failures = 0
            self.drain()
        return all_delivered

    def _send_with_retries(self, batch: List[Item], patient: bool) -> bool:
        all_delivered = True
        batches = [batch]
        attempt = 0
        while batches:
            current = batches.pop()
            verdict = self._post(current)
            batches.extend(verdict.split)
            if not verdict.retry:
                all_delivered = all_delivered and not verdict.dropped
                continue
            all_delivered = False
            attempt += 1
            wait = verdict.retry_after_s if verdict.retry_after_s is not None else _backoff(attempt)
            if patient and attempt < self._max_attempts and wait <= MAX_INLINE_WAIT_S:
                self._sleep(wait)
                batches.append(verdict.retry)
            else:
                if len(verdict.retry) == len(current):  # none of it got through
                    self._down_until = time.monotonic() + max(DOWN_S, verdict.retry_after_s or 0.0)
                self.keep(verdict.retry, verdict.retry_after_s)
        return all_delivered

    def _post(self, batch: List[Item]) -> Verdict:
        try:
            response = self.transport.post(body(batch))
        except Exception as exc:  # the transport promises not to raise; be safe anyway
            response = TrackResponse(status=0, error="%s: %s" % (type(exc).__name__, exc))
        verdict = judge(response.status, response.errors, batch, response.retry_after)
        for reason, count in verdict.dropped.items():
            DROPS.add(reason, count)
        if verdict.retry and response.status not in (200, 206):
            logger.debug("batch of %d not delivered: %s", len(batch), response.error or response.status)
        return verdict

    def keep(self, items: List[Item], retry_after_s: Optional[float] = None) -> None:
        """Offline storage for what could not be sent now; counted as dropped without it."""
        if not items:
            return
        storage = self.storage.get() if self.storage is not None else None
        if storage is None:
            DROPS.add("not delivered and offline storage is off", len(items))
            return
        lease = max(STORED_LEASE_S, retry_after_s or 0.0)
        if storage.put(items, lease_s=lease) is None:
            DROPS.add("not delivered and could not be written to offline storage", len(items))

    # -- draining ------------------------------------------------------------------------------
    def has_backlog(self) -> bool:
        return self.storage is not None and self.storage.has_backlog()

    def drain(self, limit: int = DRAIN_BLOBS) -> int:
        """Re-send up to ``limit`` stored blobs as one request; returns how many were settled.

        A few blobs per drain, joined into one batch: recovery after an outage catches up
        quickly without a burst of requests that would be throttled again.
        """
        if self.storage is None or time.monotonic() < self._drain_paused_until:
            return 0
        if not self.storage.has_backlog():
            return 0
        storage = self.storage.get()
        if storage is None:
            return 0
        with self._lock:
            blobs = list(storage.lease_next(lease_s=60.0, limit=limit))
            items: List[Item] = []
            for blob in blobs:
                items.extend(blob.read_items())  # never raises; bad lines are counted by storage
            if not items:
                for blob in blobs:
                    blob.delete()
                return len(blobs)
            verdict = self._post(items)
            if verdict.retry and len(verdict.retry) == len(items):
                self._drain_failures += 1
                pause = min(MAX_DRAIN_PAUSE_S, DRAIN_PAUSE_S * 2 ** (self._drain_failures - 1))
                pause = max(pause, verdict.retry_after_s or 0.0)
                for blob in blobs:  # free again soon; the pause decides when we try
                    blob.release(min(pause, 1.0) if verdict.retry_after_s is None else pause)
                self._drain_paused_until = time.monotonic() + pause
                return 0
            self._drain_failures = 0
            for part in verdict.split:  # stored items the endpoint found too large together
                self.keep(part)
            if verdict.retry:  # partly delivered: keep only what is still owed
                self.keep(verdict.retry, verdict.retry_after_s)
            for blob in blobs:
                blob.delete()
            return len(blobs)

    def close(self) -> None:
        self.transport.close()


def encode_envelopes(envelopes: Iterable[Any]) -> List[Item]:
    """Each envelope's JSON bytes, encoded as it comes (``envelopes`` may be a generator);
    an item already encoded (bytes, from :func:`converted_item`) is taken as it is.

    An envelope over the service's 64 KiB item limit is trimmed first (measured on the
    ASCII-escaped text, which is never shorter than the UTF-8 the service counts). One that
    cannot be encoded (a cycle a telemetry processor built) is counted as dropped; the rest of
    the batch goes on.
    """
    items: List[Item] = []
    for envelope in envelopes:
        if envelope.__class__ is bytes:  # already encoded by converted_item()
            items.append(envelope)
            continue
        try:
            item = encode_item(envelope)
            if len(item) > MAX_ITEM_BYTES:
                trimmed = trim_envelope(envelope)
                if trimmed is not None:
                    item = encode_item(trimmed)
        except Exception:  # RecursionError, or a str() that raised: that item only
            DROPS.add("could not be encoded as JSON")
            logger.debug("could not encode an envelope", exc_info=True)
            continue
        items.append(item)
    return items


def converted_item(envelope: Envelope) -> Any:
    """A span's or log record's envelope straight from the conversion (no telemetry processor
    ran) as its bytes for :meth:`Sender.send`, through the cheaper
    :func:`~ai_core.delivery.encode.encode_converted`; the dict itself when it needs what
    ``encode_envelopes`` does besides (trimming an item over the size limit, counting one that
    cannot be encoded)."""
    try:
        item = encode_converted(envelope)
    except Exception:
        return envelope
    return item if len(item) <= MAX_ITEM_BYTES else envelope


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: spreads the retries of many processes."""
    return random.uniform(0, BACKOFF_S * (2 ** (attempt - 1)))
