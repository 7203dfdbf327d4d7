"""Offline storage on the real file system, shared by real processes (core/ai_core/delivery/storage.py)."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from ai_core.delivery import storage as storage_mod
from ai_core.delivery.storage import (
    LocalStorage,
    StorageRefused,
    default_storage_directory,
    prepare_directory,
)
from ai_core.diagnostics import DROPS

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (chown to another user, mount)")
posix_only = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX file system semantics")


def env(i: int, size: int = 0) -> Dict[str, object]:
    return {"id": i, "name": "Microsoft.ApplicationInsights.Message", "data": {"pad": "x" * size}}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def drops(reason: str) -> int:
    return DROPS.totals().get(reason, 0)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


class Clock:
    """The wall clock of the storage module only, moved by the test: lease expiry is decided
    by the test, not by how fast a loaded machine runs it."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> object:  # gmtime, strftime, monotonic: the real ones
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(storage_mod, "time", fake)
    return fake


@pytest.fixture
def records() -> Iterator[List[logging.LogRecord]]:
    """Log records of the ``ai_core`` logger (attached directly: propagation may be off)."""
    got: List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            got.append(record)

    log = logging.getLogger("ai_core")
    handler, old_level = Keep(logging.DEBUG), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield got
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


def warnings(records: List[logging.LogRecord]) -> List[str]:
    return [r.getMessage() for r in records if r.levelno >= logging.WARNING]


def ids_of(storage: LocalStorage) -> List[object]:
    out = []
    while True:
        got = list(storage.lease_next(lease_s=30, limit=100))
        if not got:
            return out
        for blob in got:
            out.extend(e["id"] for e in blob.read())
            blob.delete()


def backdate(path: str, seconds: float) -> str:
    """Rename a blob as if it had been written ``seconds`` ago (the write time is in the name)."""
    name = os.path.basename(path)
    old = storage_mod._now_stamp(time.time() - seconds) + name[len(storage_mod._now_stamp(0)):]
    target = os.path.join(os.path.dirname(path), old)
    os.rename(path, target)
    return target


# -- the directory --------------------------------------------------------------------------
@posix_only
def test_storage_directory_levels_are_created_0700_and_blobs_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old_umask = os.umask(0)  # even with a permissive umask
    try:
        storage = LocalStorage(default_storage_directory("ikey-1"))
        path = storage.put([env(1)])
    finally:
        os.umask(old_umask)
    leaf = Path(storage.directory)
    assert leaf.parent.parent == tmp_path and leaf.parent.name.startswith("appinsights-otel-")
    assert mode(leaf) == 0o700 and mode(leaf.parent) == 0o700
    assert path is not None and mode(Path(path)) == 0o600
    assert [p.name for p in leaf.iterdir()] == [os.path.basename(path)]  # no .tmp left behind


def test_default_storage_directory_is_per_user_and_per_resource_under_the_temp_dir() -> None:
    a, b = default_storage_directory("key-a"), default_storage_directory("key-b")
    assert a != b and os.path.dirname(a) == os.path.dirname(b)
    assert os.path.dirname(os.path.dirname(a)) == tempfile.gettempdir()
    assert os.path.basename(os.path.dirname(a)).startswith("appinsights-otel-")
    assert "key-a" not in a


@posix_only
def test_our_own_directory_open_to_others_is_tightened_to_0700(store_dir: Path) -> None:
    store_dir.mkdir()
    os.chmod(store_dir, 0o777)
    LocalStorage(str(store_dir))
    assert mode(store_dir) == 0o700


@needs_root
def test_directory_owned_by_another_user_is_refused(store_dir: Path) -> None:
    store_dir.mkdir(mode=0o700)
    os.chown(store_dir, NOBODY, NOBODY)
    with pytest.raises(StorageRefused, match="owned by another user") as info:
        LocalStorage(str(store_dir))
    assert str(store_dir) in str(info.value) and "storage_directory" in str(info.value)
    assert list(store_dir.iterdir()) == []


@needs_root
def test_per_user_directory_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    per_user = tmp_path / "appinsights-otel-someone"
    per_user.mkdir(mode=0o777)
    os.chown(per_user, NOBODY, NOBODY)  # pre-created by another user in a shared /tmp
    with pytest.raises(StorageRefused, match="owned by another user"):
        prepare_directory(str(per_user / "leaf"))
    assert not (per_user / "leaf").exists()  # nothing created inside the other user's directory


@posix_only
def test_symlinked_storage_directory_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    leaf = tmp_path / "store"
    leaf.symlink_to(elsewhere)
    with pytest.raises(StorageRefused, match="symbolic link"):
        LocalStorage(str(leaf))
    assert list(elsewhere.iterdir()) == [] and mode(elsewhere) == 0o755  # not followed, not chmod'ed


@posix_only
def test_dangling_symlink_planted_at_the_storage_directory_is_refused_and_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "would-be-created"
    leaf = tmp_path / "store"
    leaf.symlink_to(target)
    with pytest.raises(StorageRefused, match="symbolic link"):
        LocalStorage(str(leaf))
    assert not target.exists()


@posix_only
def test_symlinked_per_user_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    directory = default_storage_directory("ikey")
    attacker = tmp_path / "attacker-owned"
    attacker.mkdir()
    os.symlink(attacker, os.path.dirname(directory))
    with pytest.raises(StorageRefused, match="symbolic link"):
        LocalStorage(directory)
    assert list(attacker.iterdir()) == []  # the leaf was not created through the link


def test_a_file_where_the_directory_should_be_is_refused(store_dir: Path) -> None:
    store_dir.write_text("not a directory")
    with pytest.raises(StorageRefused, match="not a directory"):
        LocalStorage(str(store_dir))


@posix_only
def test_symlinks_and_foreign_files_inside_the_directory_are_never_read(store_dir: Path, tmp_path: Path) -> None:
    storage = LocalStorage(str(store_dir))
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"id": "secret"}) + "\n")
    os.symlink(secret, store_dir / "20200101T000000.000000-abcdef0123456789-n1.blob")
    (store_dir / "README").write_text("not ours")
    assert storage.count() == 0
    assert ids_of(storage) == []
    assert secret.exists() and (store_dir / "README").exists()


def test_put_recreates_a_storage_directory_removed_by_a_temp_cleaner(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    os.rmdir(store_dir)
    assert storage.put([env(1)]) is not None
    assert mode(store_dir) == 0o700 and ids_of(storage) == [1]


# -- writing ----------------------------------------------------------------------------------
def test_blob_round_trip_keeps_every_envelope_in_order(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    batch = [env(i) for i in range(5)] + [{"id": 5, "text": "üñí\u2028code \n newline"}]
    assert storage.put(batch) is not None and storage.put([]) is None
    assert storage.count() == 1 and storage.size_bytes() > 0
    (blob,) = storage.lease_next()
    assert blob.read() == batch
    assert blob.delete() is True and storage.count() == 0


def test_stale_tmp_file_of_a_crashed_writer_is_removed_after_60_s_and_never_leased(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    stale = store_dir / "20200101T000000.000000-aaaaaaaaaaaaaaaa-n1.blob.tmp"
    fresh = store_dir / (storage_mod._now_stamp() + "-bbbbbbbbbbbbbbbb-n1.blob.tmp")
    for p in (stale, fresh):
        p.write_text(json.dumps(env(9)) + "\n")
    os.utime(stale, (time.time() - 61, time.time() - 61))
    assert list(storage.lease_next(limit=10)) == []
    assert not stale.exists() and fresh.exists()
    assert storage.count() == 0


# -- leases -----------------------------------------------------------------------------------
def test_leased_blob_is_invisible_to_others_until_its_lease_expires(store_dir: Path, clock: Clock) -> None:
    mine, other = LocalStorage(str(store_dir)), LocalStorage(str(store_dir))
    mine.put([env(1)])
    (blob,) = mine.lease_next(lease_s=0.3)
    assert "@" in blob.name and blob.name.endswith(".lock")
    clock.advance(0.29)
    assert list(other.lease_next(limit=5)) == [] and other.count() == 1
    clock.advance(0.02)
    (taken,) = other.lease_next(lease_s=30)
    assert [e["id"] for e in taken.read()] == [1]
    # The first holder lost its lease: it reads nothing and cannot delete or release it.
    assert blob.read() == [] and blob.delete() is False and blob.release(0) is False
    assert taken.delete() is True and other.count() == 0


def test_release_makes_a_blob_available_again_after_retry_after(store_dir: Path, clock: Clock) -> None:
    storage = LocalStorage(str(store_dir))
    storage.put([env(1)])
    (blob,) = storage.lease_next()
    assert blob.release(0.3) is True
    clock.advance(0.29)
    assert list(storage.lease_next()) == []
    clock.advance(0.02)
    (again,) = storage.lease_next()
    assert again.release(0) is True  # 0: available right away, under its plain name
    (third,) = storage.lease_next()
    assert [e["id"] for e in third.read()] == [1]


def test_put_with_a_lease_is_not_sent_before_it_expires(store_dir: Path, clock: Clock) -> None:
    storage = LocalStorage(str(store_dir))
    storage.put([env(1)], lease_s=0.3)
    storage.put([env(2)])
    clock.advance(0.29)
    assert [e["id"] for b in storage.lease_next(limit=5) for e in b.read()] == [2]
    clock.advance(0.02)
    assert ids_of(storage) == [1]


def test_lease_next_returns_oldest_first_and_stops_at_limit(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    for i in range(5):
        storage.put([env(i)])
    first = list(storage.lease_next(limit=2))
    assert [e["id"] for b in first for e in b.read()] == [0, 1]
    assert storage.count() == 5 and ids_of(storage) == [2, 3, 4]


def run(code: str, *args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_lease_held_by_a_killed_process_expires_and_another_process_delivers_the_blobs(store_dir: Path, clock: Clock) -> None:
    storage = LocalStorage(str(store_dir))
    for i in range(5):
        storage.put([env(i)])
        clock.advance(0.001)  # distinct write times: the holder leases the oldest three
    holder = run(
        """
        import sys, time
        from ai_core.delivery.storage import LocalStorage
        blobs = list(LocalStorage(sys.argv[1]).lease_next(lease_s=1.0, limit=3))
        print(len(blobs), flush=True)
        time.sleep(60)
        """,
        str(store_dir),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "3"
        leased_by = time.time()  # the holder's leases end 1 s after this at the latest
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    # Our clock stands still before the leases end (however slow this machine is)...
    clock.now = min(clock.now, leased_by)
    assert sorted(ids_of(storage)) == [3, 4]  # the three leased ones are still the dead process's
    assert storage.count() == 3
    clock.now = leased_by + 1.01  # ...then moves past them
    assert sorted(ids_of(storage)) == [0, 1, 2] and storage.count() == 0


DRAINER = """
import json, os, sys, time
from ai_core.delivery.storage import LocalStorage
directory, out, go, k = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
storage = LocalStorage(directory)
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
seen, own, idle = [], 0, 0
while idle < 3 or own < 25:
    if own < 25:  # writers and readers at once: each drainer also persists its own batches
        storage.put([{"id": "p%s-%d" % (k, own)}])
        own += 1
    got = False
    for blob in storage.lease_next(lease_s=30, limit=1 + own % 3):
        got = True
        seen.extend(e["id"] for e in blob.read())
        assert blob.delete(), "lost a lease that should still be ours"
    idle = 0 if got else idle + 1
    if not got:
        time.sleep(0.002)
with open(out, "w") as f:
    json.dump(seen, f)
"""


def test_four_processes_share_a_directory_without_duplicates_or_loss(store_dir: Path, tmp_path: Path) -> None:
    storage = LocalStorage(str(store_dir))
    for i in range(200):
        storage.put([{"id": "pre-%d-a" % i}, {"id": "pre-%d-b" % i}])
    go = tmp_path / "go"
    outs = [tmp_path / ("drainer-%d.json" % k) for k in range(4)]
    procs = [run(DRAINER, str(store_dir), str(out), str(go), str(k)) for k, out in enumerate(outs)]
    try:
        deadline = time.time() + 120  # four interpreters starting on a loaded machine
        while not all(Path(str(o) + ".ready").exists() for o in outs):
            assert time.time() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()  # all four start draining the same 200 blobs at the same moment
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    per_process = [json.loads(o.read_text()) for o in outs]
    leftovers = ids_of(storage)  # batches a drainer put after the others had finished
    everything = [i for ids in per_process for i in ids] + leftovers
    expected = {"pre-%d-%s" % (i, s) for i in range(200) for s in "ab"} | {"p%d-%d" % (k, i) for k in range(4) for i in range(25)}
    assert len(everything) == len(set(everything)), "an item was delivered twice"
    assert set(everything) == expected, "items were lost"
    assert sum(1 for ids in per_process if ids) >= 2, "the processes did not actually share the work"
    assert storage.count() == 0


# -- retention and size cap -------------------------------------------------------------------
def test_blobs_older_than_retention_are_deleted_and_counted_as_dropped(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))  # 48 h default
    before = drops(storage_mod.REASON_RETENTION)
    backdate(storage.put([env(1), env(2)]), 49 * 3600)
    backdate(storage.put([env(3)]), 47 * 3600)
    storage.put([env(4)])
    assert sorted(ids_of(storage)) == [3, 4]
    assert drops(storage_mod.REASON_RETENTION) - before == 2  # counted in items
    assert storage.count() == 0


def test_retention_uses_the_configured_period_and_spares_a_live_lease(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir), retention_s=60)
    before = drops(storage_mod.REASON_RETENTION)
    storage.put([env(1)])
    (held,) = storage.lease_next(lease_s=30)  # someone is sending it right now...
    held.path = backdate(held.path, 120)  # ...and it was written two minutes ago
    backdate(storage.put([env(2)]), 120)
    storage.maintain()
    assert drops(storage_mod.REASON_RETENTION) - before == 1 and storage.count() == 1
    assert [e["id"] for e in held.read()] == [1]


def test_full_storage_evicts_the_oldest_blobs_and_keeps_the_newest(store_dir: Path) -> None:
    one = len(json.dumps(env(99, 1000), separators=(",", ":"))) + 1  # ids 10..24: same size
    storage = LocalStorage(str(store_dir), max_bytes=10 * one)
    before = drops(storage_mod.REASON_EVICTED)
    for i in range(25):
        assert storage.put([env(i, 1000)]) is not None
    assert storage.size_bytes() <= 10 * one
    assert ids_of(storage) == list(range(15, 25))
    assert drops(storage_mod.REASON_EVICTED) - before == 15


def test_a_batch_larger_than_the_cap_is_refused_without_evicting_anything(store_dir: Path, records: List[logging.LogRecord]) -> None:
    storage = LocalStorage(str(store_dir), max_bytes=5000)
    storage.put([env(1)])
    assert storage.put([env(2, 10000)]) is None
    assert ids_of(storage) == [1]
    assert len(warnings(records)) == 1 and "larger than the storage cap" in warnings(records)[0]


# -- failures -----------------------------------------------------------------------------------
def test_corrupt_lines_are_skipped_counted_and_the_good_envelopes_returned(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    path = storage.put([env(1), env(2)])
    assert path is not None
    with open(path, "ab") as f:
        f.write(b'{"id": 3, "trunc\n\xff\xfe not utf-8\n[1, 2]\n' + json.dumps(env(4)).encode() + b"\n")
    before = drops(storage_mod.REASON_CORRUPT)
    (blob,) = storage.lease_next()
    assert [e["id"] for e in blob.read()] == [1, 2, 4]
    assert drops(storage_mod.REASON_CORRUPT) - before == 3


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, so "disk full" and "read-only" are the kernel's answers."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if not IS_ROOT or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def test_full_disk_put_returns_none_logs_once_and_recovers(small_fs: Path, records: List[logging.LogRecord]) -> None:
    storage = LocalStorage(str(small_fs / "store"))
    results = [storage.put([env(i, 20000)]) for i in range(8)]
    stored = [r for r in results if r is not None]
    assert 1 <= len(stored) < 8 and results[-1] is None
    assert len(warnings(records)) == 1 and "No space left" in warnings(records)[0]
    assert not [n for n in os.listdir(small_fs / "store") if n.endswith(".tmp")]  # partial writes removed
    assert len(ids_of(storage)) == len(stored)  # what was stored is intact
    assert storage.put([env(99)]) is not None  # room again
    assert any("writable again" in r.getMessage() for r in records)
    for i in range(8):
        storage.put([env(i, 20000)])
    assert len(warnings(records)) == 2  # a new episode logs once more


def test_read_only_file_system_put_returns_none_and_logs_once(small_fs: Path, records: List[logging.LogRecord]) -> None:
    storage = LocalStorage(str(small_fs / "store"))
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        assert [storage.put([env(i)]) for i in range(5)] == [None] * 5
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert len(warnings(records)) == 1 and "Read-only file system" in warnings(records)[0]
    assert storage.put([env(7)]) is not None and ids_of(storage) == [7]


@posix_only
def test_unwritable_directory_put_returns_none_and_logs_once(store_dir: Path, records: List[logging.LogRecord]) -> None:
    storage = LocalStorage(str(store_dir))
    os.chmod(store_dir, 0o500)
    try:
        try:
            (store_dir / "probe").touch()
        except PermissionError:
            pass
        else:  # root ignores permissions: the read-only file system test covers it there
            pytest.skip("permissions are not enforced for this user")
        assert [storage.put([env(i)]) for i in range(5)] == [None] * 5
    finally:
        os.chmod(store_dir, 0o700)
    assert len(warnings(records)) == 1 and "Permission denied" in warnings(records)[0]
    assert storage.put([env(7)]) is not None and ids_of(storage) == [7]


def test_count_and_has_blobs_see_ready_and_leased_blobs_but_not_partial_writes(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    assert storage.count() == 0 and storage.has_blobs() is False
    (store_dir / (storage_mod._now_stamp() + "-cccccccccccccccc-n1.blob.tmp")).write_text("{}\n")
    assert storage.count() == 0 and storage.has_blobs() is False
    storage.put([env(1)])
    storage.put([env(2)], lease_s=30)
    assert storage.count() == 2 and storage.has_blobs() is True


def test_put_never_raises_on_unserialisable_values(store_dir: Path) -> None:
    storage = LocalStorage(str(store_dir))
    assert storage.put([{"id": 1, "when": object()}]) is not None
    assert ids_of(storage) == [1]


# -- speed ------------------------------------------------------------------------------------------
def test_lease_next_with_thousands_of_blobs_needs_one_scan_and_no_stat_calls(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = LocalStorage(str(store_dir))
    stamp = storage_mod._now_stamp()
    for i in range(2000):
        (store_dir / ("%s-%016x-n1.blob" % (stamp, i))).write_text(json.dumps(env(i)) + "\n")
    list(storage.lease_next(limit=1))  # the first call also runs maintenance
    stats = []
    for name in ("stat", "lstat"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda *a, _real=real, **k: stats.append(a) or _real(*a, **k))
    started = time.perf_counter()
    got = list(storage.lease_next(limit=3))
    elapsed = time.perf_counter() - started
    assert len(got) == 3 and stats == []
    assert elapsed < 0.5, elapsed
