"""Offline storage: batches that could not be sent, kept on disk and re-sent later.

Layout
------
One directory per user and resource (``resource_storage_directory``), mode 0700, owned by the
current user, never reached through a symbolic link. It holds one file per batch, JSON Lines
(one envelope per line), mode 0600. Each line is the item's bytes exactly as they are sent
(compact, ASCII-only JSON: ``ai_core.delivery.encode``), so storing encodes nothing again.
Blobs written by earlier versions (UTF-8 lines, non-ASCII characters unescaped) are read too:
``Blob.read_items`` re-encodes every line, which gives the bytes they were always sent as.

Everything about a blob is in its *name*, so a drain needs one ``scandir`` and no ``stat``
calls::

    20250131T235959.123456-<16 hex>-n<items>.blob                         ready to send
    20250131T235959.123456-<16 hex>-n<items>.blob@20250201T000059.123456.lock   leased until
    20250131T235959.123456-<16 hex>-n<items>.blob.tmp                     being written

Times are UTC, fixed width, so names sort by write time and two times compare as strings.
The *base* name (up to ``.blob``) never changes during a blob's life; the write time in it
drives retention and eviction order.

Writing
-------
``put`` writes ``<base>.tmp`` (``O_CREAT|O_EXCL|O_NOFOLLOW``, 0600), then renames it to its
final name, so a reader never sees a half-written blob. A writer that dies in between leaves a
``.tmp`` file, deleted by maintenance once it is 60 s old. ``put(lease_s=...)`` renames straight
to a ``.lock`` name, so the blob is not re-sent before that time (a ``Retry-After``).

The lease protocol (several processes, one directory)
-----------------------------------------------------
There is no OS lock. Invariant: at any moment each base name exists as exactly one file,
either ``<base>`` or ``<base>@<expiry>.lock``. Every state change is one ``os.rename`` of that
file, which the kernel performs atomically: of several processes renaming the same source,
exactly one succeeds and the others get ``ENOENT`` and move on. So:

* lease: rename ``<base>`` (or ``<base>@<past>.lock``, a lease that expired because its holder
  crashed or gave up) to ``<base>@<now + lease_s>.lock``. Whoever wins owns the blob until then;
* release (``Blob.release(retry_after_s)``): rename our lock to a new expiry (or back to
  ``<base>`` when the retry may happen now);
* done: ``unlink`` our lock name. If our lease had expired and another process took the blob,
  our name no longer exists and the unlink (or read, or release) quietly does nothing.

``lease_next`` costs one ``scandir`` and a sort of the names, no ``stat`` per blob, and stops
after ``limit``; ``has_blobs()`` is the cheapest "is there a backlog?" (stops at the first).

A lease that outlives its holder simply expires; the blob is then sent again by whoever leases
it next. The one way an item is sent twice is a holder still sending when its lease expires,
so callers lease for longer than a send can take (request timeout plus a margin).

Maintenance (on ``lease_next`` at most every 60 s, and when ``put`` rescans for the size cap)
deletes blobs older than the retention period (by the write time in the name; blobs under a
live lease are left to their holder) and stale ``.tmp`` files. When the directory is over
``max_bytes``, ``put`` evicts the OLDEST blobs first (unleased ones before leased ones), so the
newest telemetry survives a long outage. Retention, eviction and unreadable lines are counted,
in items, in ``ai_core.diagnostics.DROPS``. A failed ``put`` (read-only or full file system) is
not counted here: it returns None and the caller still owns those items. ``put`` and the
``Blob`` methods never raise; a failed write is logged once until a write succeeds again.

Files are not fsync'd: a process crash loses nothing (the kernel has the data); a power cut
may lose the last few seconds, as for any unsynced file.

Security: in a shared temp directory another user could pre-create our directory, or plant a
symlink to make us write (as a privileged user) somewhere else, or read our telemetry. So the
per-user level and the leaf are created 0700, opened with ``O_NOFOLLOW|O_DIRECTORY`` and
checked with ``fstat`` (owner = our effective uid); anything else raises ``StorageRefused``
with a plain-words reason. Blob files are opened with ``O_NOFOLLOW``, symlinks and other
non-regular entries in the directory are ignored, and a blob not owned by us is never read.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ai_core.delivery.encode import encode_item

logger = logging.getLogger("ai_core")

BLOB = ".blob"
LOCK = ".lock"
TMP = ".tmp"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETENTION_S = 48 * 3600
_STALE_TMP_S = 60.0
_MAINTENANCE_INTERVAL_S = 60.0
_SIZE_RESCAN_S = 10.0  # between full size scans, put() trusts its own running estimate
_PER_USER_PREFIX = "appinsights-otel-"

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

_STAMP = r"\d{8}T\d{6}\.\d{6}"
_NAME = re.compile(
    r"^(?P<base>(?P<written>%s)-[0-9a-f]+(?:-n(?P<items>\d+))?\.blob)"
    r"(?:@(?P<expiry>%s)\.lock|(?P<tmp>\.tmp))?$" % (_STAMP, _STAMP)
)

REASON_RETENTION = "older than the offline storage retention"
REASON_EVICTED = "evicted from full offline storage (oldest first)"
REASON_CORRUPT = "unreadable lines in offline storage"


class StorageRefused(Exception):
    """The directory is unsafe or unusable; the message says why in plain words."""


def default_storage_directory(instrumentation_key: str) -> str:
    """``<tmp>/appinsights-otel-<user>/<hash of the ikey>``: per user, per resource."""
    try:
        user = getpass.getuser()
    except Exception:
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    safe_user = "".join(c if c.isalnum() or c in "-_." else "_" for c in user)
    digest = hashlib.sha256(instrumentation_key.encode("utf-8")).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), _PER_USER_PREFIX + safe_user, digest)


def resource_storage_directory(instrumentation_key: str, ingestion_endpoint: str) -> str:
    """The default directory of one resource at one endpoint: keyed by the key AND the
    endpoint, so what was stored for one endpoint is sent to that one only."""
    return default_storage_directory("%s;%s" % (instrumentation_key, ingestion_endpoint))


def _in_per_user_level(path: str) -> bool:
    """Whether ``path`` sits in the per-user level of the default layout (in the shared temp dir)."""
    return os.path.basename(os.path.dirname(path)).startswith(_PER_USER_PREFIX)


def private_levels(path: str) -> List[str]:
    """The absolute directories that must be private and ours for storage in ``path``, outermost
    first: the leaf, preceded in the default layout by the per-user level above it."""
    path = os.path.abspath(path)
    return [os.path.dirname(path), path] if _in_per_user_level(path) else [path]


def _euid() -> Optional[int]:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _refuse(path: str, why: str) -> StorageRefused:
    return StorageRefused(
        "offline storage directory %s %s; offline storage is disabled "
        "(remove it, or set storage_directory to a directory of your own)" % (path, why)
    )


def classify_directory(path: str) -> Optional[StorageRefused]:
    """A plain-words reason why ``path`` is not a private directory of ours, or None."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return _refuse(path, "cannot be examined (%s)" % (exc.strerror or exc))
    if stat.S_ISLNK(st.st_mode):
        return _refuse(path, "is a symbolic link, which is never followed")
    if not stat.S_ISDIR(st.st_mode):
        return _refuse(path, "exists and is not a directory")
    uid = _euid()
    if uid is not None and st.st_uid != uid:
        return _refuse(path, "is owned by another user (uid %d, we are uid %d)" % (st.st_uid, uid))
    return None


def _check_owned_private_dir(path: str) -> None:
    """Create ``path`` (0700) if missing; refuse a symlink, a non-directory or another user's
    directory; tighten a directory of ours that is open to others. Never follows a symlink:
    ``mkdir`` does not, and the checks run on an ``O_NOFOLLOW`` descriptor (no race between
    check and chmod)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise _refuse(path, "cannot be created (%s)" % (exc.strerror or exc)) from None
    if not (_O_NOFOLLOW and _O_DIRECTORY):  # Windows: no such flags, no uids
        reason = classify_directory(path)
        if reason is not None:
            raise reason
        return
    try:
        fd = os.open(path, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC)
    except OSError as exc:
        raise (classify_directory(path) or _refuse(path, "cannot be opened (%s)" % (exc.strerror or exc))) from None
    try:
        st = os.fstat(fd)
        uid = _euid()
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(path, "exists and is not a directory")
        if uid is not None and st.st_uid != uid:
            raise _refuse(path, "is owned by another user (uid %d, we are uid %d)" % (st.st_uid, uid))
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, 0o700)
    except OSError as exc:
        raise _refuse(path, "cannot be made private (%s)" % (exc.strerror or exc)) from None
    finally:
        os.close(fd)


def prepare_directory(path: str) -> str:
    """Create and check the storage directory; returns its absolute path.

    The leaf is always created 0700 and must be ours. In the default layout the per-user
    level (``<tmp>/appinsights-otel-<user>``) gets the same rule, because it sits in a shared,
    world-writable directory. Other missing parents of a user-chosen path are created 0700."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    if _in_per_user_level(path):
        grandparent = os.path.dirname(parent)
        if not os.path.isdir(grandparent):
            try:
                os.makedirs(grandparent, 0o700, exist_ok=True)
            except OSError as exc:
                raise _refuse(grandparent, "cannot be created (%s)" % (exc.strerror or exc)) from None
        _check_owned_private_dir(parent)
    elif not os.path.isdir(parent):
        try:
            os.makedirs(parent, 0o700, exist_ok=True)
        except OSError as exc:
            raise _refuse(parent, "cannot be created (%s)" % (exc.strerror or exc)) from None
    _check_owned_private_dir(path)
    return path


def count_blobs(directory: str) -> Tuple[int, int]:
    """Stored batches in ``directory`` (leased ones included) and their total size in bytes,
    by listing only: nothing is created, leased or deleted. Raises ``OSError`` when the
    directory cannot be listed."""
    blobs = size = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            m = _NAME.match(entry.name)
            if m is not None and not m.group("tmp") and entry.is_file(follow_symlinks=False):
                blobs += 1
                size += entry.stat(follow_symlinks=False).st_size
    return blobs, size


def _now_stamp(t: Optional[float] = None) -> str:
    """Fixed-width UTC time: names sort by it and compare as strings."""
    t = time.time() if t is None else t
    t = max(t, 0.0)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + ".%06d" % min(int((t % 1) * 1e6), 999999)


def _blob_name(written: float, items: int) -> str:
    return "%s-%s-n%d%s" % (_now_stamp(written), uuid.uuid4().hex[:16], items, BLOB)


def _items_in(path: str, name_items: Optional[str]) -> int:
    """Items in a blob, from its name (or by counting lines for a name without a count)."""
    if name_items is not None:
        return int(name_items)
    try:
        with open(path, "rb") as f:
            return max(1, f.read().count(b"\n"))
    except OSError:
        return 1


def _count(reason: str, items: int) -> None:
    from ai_core.diagnostics import DROPS

    DROPS.add(reason, items)


@dataclass
class Blob:
    """A leased blob: only this process may read, delete or re-lease it (until the lease ends).

    None of its methods raise: a blob whose lease was lost reads as empty."""

    storage: "LocalStorage"
    path: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def read(self) -> List[Dict[str, Any]]:
        """The envelopes, as dicts (for tools and tests; the sender uses ``read_items``)."""
        return [json.loads(item) for item in self.read_items()]

    def read_items(self) -> List[bytes]:
        """The items, as the bytes to send; lines that are not a JSON object are skipped and
        counted in DROPS.

        Every line is parsed, so a damaged line is dropped alone instead of making the whole
        request body invalid, and encoded again: the same bytes for a line of this version,
        and for an older blob's line (UTF-8, non-ASCII unescaped) the bytes it was always sent
        as. Draining is rare (after an outage), so one path for both formats costs nothing.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC)
        except OSError as exc:
            if exc.errno != errno.ENOENT:  # ENOENT: our lease expired and another process has it
                logger.warning("Application Insights: cannot read offline blob %s: %s",
                               self.path, exc.strerror)
            return []
        try:
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                uid = _euid()
                if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid):
                    logger.warning("Application Insights: ignoring offline blob %s: not a file of ours",
                                   self.path)
                    return []
                data = f.read()
        except OSError as exc:
            logger.warning("Application Insights: cannot read offline blob %s: %s",
                           self.path, exc.strerror)
            return []
        items: List[bytes] = []
        bad = 0
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                envelope = json.loads(line)
                if isinstance(envelope, dict):
                    items.append(encode_item(envelope))
                else:
                    bad += 1
            except (ValueError, RecursionError):  # includes bad UTF-8 and bad JSON
                bad += 1
        if bad:
            _count(REASON_CORRUPT, bad)
        return items

    def delete(self) -> bool:
        """Done with it (sent, or not worth sending). False when the lease had been lost."""
        try:
            os.unlink(self.path)
            return True
        except OSError:
            return False

    def release(self, retry_after_s: float) -> bool:
        """Give the blob back, not to be leased again before ``retry_after_s`` seconds
        (0: available now). False when the lease had been lost to another process."""
        return self.storage._relock(self, retry_after_s)


class LocalStorage:
    """Blobs of envelopes in one private directory; safe to share between processes."""

    def __init__(
        self,
        directory: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.directory = prepare_directory(directory)
        self.max_bytes = max_bytes
        self.retention_s = retention_s
        self._write_failing = False  # log a failing write once, until one succeeds again
        self._size_estimate = 0
        self._size_scanned_at = float("-inf")
        self._maintained_at = float("-inf")

    # -- writing ---------------------------------------------------------------------------
    def put(self, items: Sequence[Any], lease_s: float = 0.0) -> Optional[str]:
        """Write a batch atomically; returns the blob path, or None when it was not stored
        (empty batch, larger than ``max_bytes``, or the file system refused: read-only, full,
        directory gone unsafe). Never raises; a None is not counted in DROPS (the caller
        still owns those items).

        ``items``: encoded envelopes (bytes, as the sender keeps them); an envelope dict is
        encoded first (tools and tests hold dicts).
        """
        if not items:
            return None
        try:
            data = b"\n".join(
                item if isinstance(item, bytes) else encode_item(item) for item in items
            ) + b"\n"
            if len(data) > self.max_bytes:
                self._write_failed("a batch of %d bytes is larger than the storage cap of %d bytes"
                                   % (len(data), self.max_bytes))
                return None
            self._make_room(len(data))
            try:
                path = self._write(data, len(items), lease_s)
            except FileNotFoundError:  # the directory was removed (a temp cleaner): re-create it once
                prepare_directory(self.directory)
                path = self._write(data, len(items), lease_s)
        except StorageRefused as exc:
            self._write_failed(str(exc))
            return None
        except OSError as exc:
            self._write_failed("cannot write in %s: %s" % (self.directory, exc.strerror or exc))
            return None
        except Exception as exc:  # never raise into the export path
            self._write_failed("cannot write in %s: %r" % (self.directory, exc))
            return None
        if self._write_failing:
            self._write_failing = False
            logger.info("Application Insights: offline storage in %s is writable again", self.directory)
        return path

    def _write(self, data: bytes, items: int, lease_s: float) -> str:
        now = time.time()
        name = _blob_name(now, items)
        final = os.path.join(self.directory, name)
        if lease_s > 0:
            final += "@%s%s" % (_now_stamp(now + lease_s), LOCK)
        tmp = os.path.join(self.directory, name + TMP)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self._size_estimate += len(data)
        return final

    def _write_failed(self, why: str) -> None:
        if not self._write_failing:
            self._write_failing = True
            logger.warning(
                "Application Insights: offline storage could not keep telemetry: %s "
                "(logged once until a write succeeds)",
                why,
            )

    # -- listing ---------------------------------------------------------------------------
    def _names(self, sort: bool = True) -> List[str]:
        """Names of the regular files (no symlinks), oldest first: one scandir, no stat calls."""
        try:
            with os.scandir(self.directory) as it:
                names = [e.name for e in it if e.is_file(follow_symlinks=False)]
        except OSError:
            return []
        if sort:
            names.sort()
        return names

    def _sizes(self) -> List[Tuple[str, "re.Match[str]", int]]:
        out = []
        try:
            with os.scandir(self.directory) as it:
                for e in it:
                    m = _NAME.match(e.name)
                    if m is None or not e.is_file(follow_symlinks=False):
                        continue
                    try:
                        out.append((e.name, m, e.stat(follow_symlinks=False).st_size))
                    except OSError:
                        pass
        except OSError:
            pass
        out.sort(key=lambda t: t[0])
        return out

    def size_bytes(self) -> int:
        """Bytes used by our files in the directory (blobs, leased blobs, partial writes)."""
        return sum(size for _, _, size in self._sizes())

    def count(self) -> int:
        """Blobs stored, leased ones included."""
        n = 0
        for name in self._names(sort=False):
            m = _NAME.match(name)
            if m is not None and not m.group("tmp"):
                n += 1
        return n

    def has_blobs(self) -> bool:
        """``count() > 0``, stopping at the first blob (leased ones included)."""
        try:
            with os.scandir(self.directory) as it:
                for e in it:
                    m = _NAME.match(e.name)
                    if m is not None and not m.group("tmp") and e.is_file(follow_symlinks=False):
                        return True
        except OSError:
            pass
        return False

    # -- maintenance -----------------------------------------------------------------------
    def maintain(self) -> None:
        """Delete blobs past retention (unless under a live lease) and stale ``.tmp`` files."""
        self._maintained_at = time.monotonic()
        now = time.time()
        cutoff = _now_stamp(now - self.retention_s)
        now_stamp = _now_stamp(now)
        for name in self._names():
            m = _NAME.match(name)
            if m is None:
                continue
            path = os.path.join(self.directory, name)
            if m.group("tmp"):
                try:
                    if now - os.lstat(path).st_mtime > _STALE_TMP_S:
                        os.unlink(path)  # a writer died between write and rename
                except OSError:
                    pass
            elif m.group("written") < cutoff:
                self._drop_expired(path, m, now_stamp)

    def _drop_expired(self, path: str, m: "re.Match[str]", now_stamp: str) -> None:
        expiry = m.group("expiry")
        if expiry is not None and expiry > now_stamp:
            return  # a live lease: its holder deals with it; dropped later if it comes back
        items = _items_in(path, m.group("items"))
        try:
            os.unlink(path)
        except OSError:
            return  # another process got there first
        _count(REASON_RETENTION, items)

    def _make_room(self, incoming: int) -> None:
        """Evict the oldest blobs until ``incoming`` bytes fit under the cap.

        A full directory scan (one stat per file) runs only when the running estimate says
        the cap is near, or every ``_SIZE_RESCAN_S`` (other processes write here too)."""
        mono = time.monotonic()
        if self._size_estimate + incoming <= self.max_bytes and mono - self._size_scanned_at < _SIZE_RESCAN_S:
            return
        if mono - self._maintained_at >= _MAINTENANCE_INTERVAL_S:
            self.maintain()
        self._size_scanned_at = mono
        entries = self._sizes()
        total = sum(size for _, _, size in entries)
        if total + incoming > self.max_bytes:
            now_stamp = _now_stamp()
            # Oldest first, blobs nobody is sending before blobs under a live lease.
            candidates = sorted(
                (e for e in entries if not e[1].group("tmp")),
                key=lambda e: (e[1].group("expiry") is not None and e[1].group("expiry") > now_stamp, e[0]),
            )
            evicted = 0
            for name, m, size in candidates:
                if total + incoming <= self.max_bytes:
                    break
                path = os.path.join(self.directory, name)
                items = _items_in(path, m.group("items"))
                try:
                    os.unlink(path)
                except OSError:
                    continue
                total -= size
                evicted += items
            _count(REASON_EVICTED, evicted)
        self._size_estimate = total

    # -- reading ---------------------------------------------------------------------------
    def lease_next(self, lease_s: float = 60.0, limit: int = 1) -> Iterator[Blob]:
        """Lease up to ``limit`` ready blobs, oldest first (lazily: a blob is leased when the
        iterator reaches it). Cost: one scandir and a sort, no stat calls; maintenance runs
        on the way at most every 60 s."""
        if limit <= 0:
            return
        if time.monotonic() - self._maintained_at >= _MAINTENANCE_INTERVAL_S:
            self.maintain()
        now = time.time()
        cutoff = _now_stamp(now - self.retention_s)
        leased = 0
        for name in self._names():
            m = _NAME.match(name)
            if m is None or m.group("tmp"):
                continue
            now = time.time()
            now_stamp = _now_stamp(now)
            path = os.path.join(self.directory, name)
            if m.group("written") < cutoff:
                self._drop_expired(path, m, now_stamp)
                continue
            expiry = m.group("expiry")
            if expiry is not None and expiry > now_stamp:
                continue  # leased by someone (maybe us) and not expired
            expires = _now_stamp(now + lease_s)
            target = os.path.join(self.directory, "%s@%s%s" % (m.group("base"), expires, LOCK))
            try:
                os.rename(path, target)  # atomic: the first process to rename owns the blob
            except OSError:
                continue  # ENOENT: another process leased or deleted it first
            leased += 1
            yield Blob(self, target)
            if leased >= limit:
                return

    def _relock(self, blob: Blob, retry_after_s: float) -> bool:
        m = _NAME.match(os.path.basename(blob.path))
        if m is None:
            return False
        base = os.path.join(self.directory, m.group("base"))
        target = base
        if retry_after_s > 0:
            target = "%s@%s%s" % (base, _now_stamp(time.time() + retry_after_s), LOCK)
        try:
            os.rename(blob.path, target)
        except OSError:
            return False
        blob.path = target
        return True
