"""Offline storage: batches that could not be sent, kept on disk and re-sent later.

One blob file per batch (JSON lines). Several processes may share a directory (gunicorn
workers, a restarted app): a blob is *leased* by atomically renaming it to a name that holds
the lease expiry, so exactly one process sends it; a crashed process's lease simply expires.
Blobs older than the retention period are deleted; when the directory is over its size cap
the OLDEST blobs are evicted, so the newest telemetry survives an outage.

The directory is created 0700, must be owned by the current user, and is never reached
through a symlink: in a shared /tmp another user could otherwise read or plant telemetry.
"""

from __future__ import annotations

import calendar
import errno
import getpass
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence

logger = logging.getLogger("ai_core")

BLOB = ".blob"
LOCK = ".lock"
TMP = ".tmp"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETENTION_S = 48 * 3600
_STALE_TMP_S = 60.0


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
    return os.path.join(tempfile.gettempdir(), "appinsights-otel-" + safe_user, digest)


def _check_owned_private_dir(path: str) -> None:
    """Create ``path`` (0700) if missing; refuse a symlink or a directory of another user."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise StorageRefused("%s is a symbolic link; refusing to follow it" % path)
    if not stat.S_ISDIR(st.st_mode):
        raise StorageRefused("%s exists and is not a directory" % path)
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise StorageRefused("%s is owned by another user (uid %d)" % (path, st.st_uid))
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def prepare_directory(path: str) -> str:
    """Make every level we create private; check the levels below the temp dir we own."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    # Create missing parents normally (they may be a user-chosen location), then apply the
    # private-directory rule to the leaf and, for the default layout, to the per-user level.
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o700, exist_ok=True)
    if os.path.basename(parent).startswith("appinsights-otel-"):
        _check_owned_private_dir(parent)
    _check_owned_private_dir(path)
    return path


def _now_stamp(t: Optional[float] = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + ".%06d" % int((t % 1) * 1e6)


def _stamp_time(stamp: str) -> float:
    try:
        base, frac = stamp.split(".")
        return calendar.timegm(time.strptime(base, "%Y%m%dT%H%M%S")) + int(frac) / 1e6
    except (ValueError, OverflowError):
        return 0.0


@dataclass
class Blob:
    """A leased blob: only this process may read, delete or re-lease it."""

    storage: "LocalStorage"
    path: str

    def read(self) -> List[Dict[str, Any]]:
        with open(self.path, "rb") as f:
            return [json.loads(line) for line in f.read().splitlines() if line.strip()]

    def delete(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def release(self, retry_after_s: float) -> None:
        """Give the blob back, not to be retried before ``retry_after_s`` seconds."""
        self.storage._relock(self, retry_after_s)


class LocalStorage:
    def __init__(
        self,
        directory: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.directory = prepare_directory(directory)
        self.max_bytes = max_bytes
        self.retention_s = retention_s

    # -- writing -------------------------------------------------------------------------
    def put(self, envelopes: Sequence[Dict[str, Any]], lease_s: float = 0.0) -> Optional[str]:
        """Write a batch atomically; returns the blob path, or None when it could not be written."""
        if not envelopes:
            return None
        data = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in envelopes).encode("utf-8")
        self._make_room(len(data))
        name = "%s-%s%s" % (_now_stamp(), uuid.uuid4().hex[:8], BLOB)
        final = os.path.join(self.directory, name)
        if lease_s > 0:
            final += "@%s%s" % (_now_stamp(time.time() + lease_s), LOCK)
        tmp = os.path.join(self.directory, name + TMP)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(tmp, flags, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            os.rename(tmp, final)
            return final
        except OSError as exc:
            logger.warning("Application Insights: could not write offline storage in %s: %s", self.directory, exc.strerror)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return None

    def _entries(self) -> List[os.DirEntry]:
        try:
            with os.scandir(self.directory) as it:
                return sorted((e for e in it if e.is_file(follow_symlinks=False)), key=lambda e: e.name)
        except OSError:
            return []

    def size_bytes(self) -> int:
        total = 0
        for entry in self._entries():
            try:
                total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                pass
        return total

    def _make_room(self, incoming: int) -> None:
        """Evict the oldest blobs until ``incoming`` bytes fit under the cap."""
        entries = self._entries()
        sizes = []
        total = 0
        for entry in entries:
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            sizes.append((entry, size))
            total += size
        evicted = 0
        for entry, size in sizes:  # oldest first: names start with the write time
            if total + incoming <= self.max_bytes:
                break
            try:
                os.unlink(entry.path)
                total -= size
                evicted += 1
            except OSError:
                pass
        if evicted:
            from ai_core.diagnostics import DROPS

            DROPS.add("evicted from full offline storage (oldest first), in blobs", evicted)

    # -- reading ---------------------------------------------------------------------------
    def lease_next(self, lease_s: float = 60.0, limit: int = 1) -> Iterator[Blob]:
        """Lease up to ``limit`` ready blobs, oldest first; maintenance happens on the way."""
        now = time.time()
        leased = 0
        for entry in self._entries():
            if leased >= limit:
                return
            name = entry.name
            path = entry.path
            if name.endswith(TMP):
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TMP_S:
                        os.unlink(path)  # a writer died between write and rename
                except OSError:
                    pass
                continue
            written = _stamp_time(name.split("-", 1)[0])
            if now - written > self.retention_s:
                try:
                    os.unlink(path)
                    from ai_core.diagnostics import DROPS

                    DROPS.add("older than the offline storage retention, in blobs")
                except OSError:
                    pass
                continue
            if name.endswith(LOCK):
                expiry = _stamp_time(name.rsplit("@", 1)[-1][: -len(LOCK)])
                if expiry > now:
                    continue
                base = name.rsplit("@", 1)[0]
            elif name.endswith(BLOB):
                base = name
            else:
                continue
            target = os.path.join(self.directory, "%s@%s%s" % (base, _now_stamp(now + lease_s), LOCK))
            try:
                os.rename(path, target)  # atomic: the first process to rename owns the blob
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.EEXIST):
                    continue
                raise
            leased += 1
            yield Blob(self, target)

    def _relock(self, blob: Blob, retry_after_s: float) -> None:
        name = os.path.basename(blob.path)
        base = name.rsplit("@", 1)[0] if name.endswith(LOCK) else name
        target = os.path.join(self.directory, "%s@%s%s" % (base, _now_stamp(time.time() + retry_after_s), LOCK))
        try:
            os.rename(blob.path, target)
            blob.path = target
        except OSError:
            pass

    def count(self) -> int:
        return sum(1 for e in self._entries() if e.name.endswith((BLOB, LOCK)))
