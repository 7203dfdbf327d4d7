"""Offline storage as a user meets it (README, "Delivery"): after an outage the backlog is
re-sent a few blobs at a time, and a full disk, a read-only file system or a storage directory
that must be refused never break the app: telemetry goes on, one warning says why.

The fault cases need no privileges, so they run as root in a container too: a full disk is
``RLIMIT_FSIZE`` in a subprocess (writes past it fail with EFBIG, the kernel's answer), a
read-only file system is a tmpfs remounted read-only inside an unprivileged user namespace
(``unshare -rm``), and the refused directory is a symbolic link, which storage never follows.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List

import pytest

from ai_core.delivery.storage import LocalStorage
from ai_core.emulator import EMULATOR_IKEY, Emulator, connection_string
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import ROOT, run_python

WAIT_S = 60.0
LEFT_BEHIND = 40  # blobs a crashed process left in storage


def message(text: str) -> Dict[str, Any]:
    """A Message envelope as our exporter stores it."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "name": "Microsoft.ApplicationInsights.Message", "iKey": EMULATOR_IKEY, "time": now,
        "tags": {"ai.cloud.role": "crashed-app"},
        "data": {"baseType": "MessageData", "baseData": {"ver": 2, "message": text, "severityLevel": 2}},
    }


def closed_port_connection_string() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return connection_string("http://127.0.0.1:%d" % port)


def test_a_backlog_is_re_sent_a_few_blobs_per_request_each_item_once(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    storage = LocalStorage(str(store))
    for i in range(LEFT_BEHIND):
        assert storage.put([message("left behind %d" % i)]) is not None

    # A restarted app that records nothing: it must still deliver the backlog, and stays up
    # until the directory is empty (or the ceiling passes).
    out = run_python(f"""
import os, time, ai_core
tel = ai_core.configure(connection_string={emulator.connection_string!r}, storage_directory={str(store)!r})
deadline = time.monotonic() + {WAIT_S}
while time.monotonic() < deadline and any(".blob" in n for n in os.listdir({str(store)!r})):
    time.sleep(0.1)
tel.shutdown()
""", timeout=WAIT_S * 2)
    assert out.returncode == 0, out.stderr
    assert os.listdir(store) == [], "backlog not drained"

    assert emulator.rejected() == []
    items = emulator.items(type="trace", limit=1000)
    assert sorted(i["name"] for i in items) == sorted("left behind %d" % i for i in range(LEFT_BEHIND))  # each once
    # Items of one request are stored together, with one receive time: one batch each.
    per_request = Counter(i["received_at"] for i in items)
    assert max(per_request.values()) <= 10, "a drain request carried %d blobs" % max(per_request.values())
    assert len(per_request) >= LEFT_BEHIND // 10


FULL_DISK_STORAGE = """
import logging, os, resource, signal
from ai_core.delivery.storage import LocalStorage

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
storage = LocalStorage({store!r})
small = [{{"id": 1, "pad": "x" * 100}}]
big = [{{"id": i, "pad": "x" * 2000}} for i in range(40)]  # about 80 KB: past the limit
assert storage.put(small) is not None
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, hard))
results = [storage.put(big) for _ in range(5)]
print("FULL", results)
print("LEFT", sorted(n for n in os.listdir({store!r}) if n.endswith(".tmp")))
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # room again
print("AGAIN", storage.put(big) is not None, storage.count())
"""


def test_full_disk_put_returns_none_logs_once_leaves_no_partial_file_and_recovers(tmp_path: Path) -> None:
    out = run_python(FULL_DISK_STORAGE.format(store=str(tmp_path / "store")))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "FULL [None, None, None, None, None]" in lines
    assert "LEFT []" in lines  # the partial write was removed
    assert "AGAIN True 2" in lines  # the first blob intact, the new one stored
    warned = lines_with("offline storage could not keep telemetry", out.stderr)
    assert len(warned) == 1 and "File too large" in warned[0], out.stderr
    assert "writable again" in out.stderr


def app_through_an_outage(cs: str, store: Path, setup: str = "") -> str:
    """A script that logs three batches the endpoint does not take and stops; it must finish
    as if nothing happened. Returns its error output (where ``ai_core`` warnings go)."""
    out = run_python(setup + f"""
import logging, ai_core
tel = ai_core.configure(connection_string={cs!r}, storage_directory={str(store)!r})
log = logging.getLogger("app")
for batch in range(3):  # three batches, three attempts to store them
    for i in range(100):
        log.warning("order %d " + "x" * 200, batch * 100 + i)
    tel.force_flush(30)
tel.shutdown()
print("app finished")
""", timeout=WAIT_S * 2)
    assert out.returncode == 0, out.stderr
    assert "app finished" in out.stdout
    return out.stderr


def lines_with(text: str, output: str) -> List[str]:
    return [line for line in output.splitlines() if text in line]


def test_full_disk_during_an_outage_never_breaks_the_app(tmp_path: Path) -> None:
    store = tmp_path / "store"
    full_disk = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4 * 1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
"""
    err = app_through_an_outage(closed_port_connection_string(), store, setup=full_disk)
    warned = lines_with("offline storage could not keep telemetry", err)
    assert len(warned) == 1 and "File too large" in warned[0], err
    assert lines_with("could not be written to offline storage", err), err  # the loss is counted and said
    assert not [n for n in os.listdir(store) if n.endswith(".tmp")]


READ_ONLY_STORAGE = """
import logging, os, subprocess
from ai_core.delivery.storage import LocalStorage

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
mount_point = {mount_point!r}
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount_point], check=True)
storage = LocalStorage(os.path.join(mount_point, "store"))
assert storage.put([{{"id": 1}}]) is not None
subprocess.run(["mount", "-o", "remount,ro", mount_point], check=True)
print("READONLY", [storage.put([{{"id": i}}]) for i in range(5)], storage.count())
subprocess.run(["mount", "-o", "remount,rw", mount_point], check=True)
print("AGAIN", storage.put([{{"id": 7}}]) is not None, storage.count())
"""


def test_read_only_file_system_put_returns_none_logs_once_and_recovers(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True) if unshare else None
    if probe is None or probe.returncode != 0:
        pytest.skip("no unprivileged user namespaces here (unshare -rm): %s" % (probe.stderr if probe else "no unshare"))
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    out = subprocess.run(
        [unshare, "-rm", sys.executable, "-c", textwrap.dedent(READ_ONLY_STORAGE.format(mount_point=str(mount_point)))],
        cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=WAIT_S,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "READONLY [None, None, None, None, None] 1" in lines  # what was stored is still there
    assert "AGAIN True 2" in lines
    warned = lines_with("offline storage could not keep telemetry", out.stderr)
    assert len(warned) == 1 and "Read-only file system" in warned[0], out.stderr


def test_a_storage_directory_that_must_be_refused_turns_storage_off_with_one_warning(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    planted = tmp_path / "store"
    planted.symlink_to(elsewhere, target_is_directory=True)  # e.g. planted in a shared temp dir
    emulator.add_fault(status=503, count=1000)  # an outage: storage would be needed
    err = app_through_an_outage(emulator.connection_string, planted)
    warned = lines_with("offline storage is off: ", err)
    assert len(warned) == 1 and "symbolic link" in warned[0], err
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert lines_with("not delivered and offline storage is off", err), err  # the loss is said
