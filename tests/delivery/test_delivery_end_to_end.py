"""Delivery under faults, with real processes and real HTTP to the emulator (issue 4)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ai_core.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
EMITTER = str(Path(__file__).resolve().parents[1] / "support" / "apps" / "emitter.py")
IKEY = "00000000-0000-0000-0000-000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cs_for(port):
    return "InstrumentationKey=%s;IngestionEndpoint=http://127.0.0.1:%d" % (IKEY, port)


def start_app(port, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    full["APPLICATIONINSIGHTS_CONNECTION_STRING"] = cs_for(port)
    full.update({k: str(v) for k, v in env.items()})
    return subprocess.Popen([sys.executable, EMITTER], cwd=str(ROOT), env=full, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_app(port, timeout=60, **env):
    proc = start_app(port, **env)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def request_names(emu, prefix):
    items = emu.items(type="request", limit=10000)
    return sorted(i["name"] for i in items if i["name"].startswith("GET /%s/" % prefix))


def wait_for_names(emu, prefix, expected, timeout):
    deadline = time.time() + timeout
    names = []
    while time.time() < deadline:
        names = request_names(emu, prefix)
        if len(names) >= expected:
            break
        time.sleep(0.25)
    return names


def stored_batches(storage):
    """Batches still on disk in a storage directory (ready, leased or being written)."""
    return [p.name for p in Path(storage).rglob("*") if ".blob" in p.name]


def settle(emu, prefix, count, storage, apps, timeout=90):
    """Wait until a count of what arrived is final, then return the request names starting ``GET /<prefix>``.

    Final means: the ``count`` items arrived, no batch is left on disk (so none can be sent
    again), and each app (started with ``THEN="sentinel"``), told only then, recorded a
    sentinel request that arrived too (so whatever it had queued before has gone). A duplicate
    sent by any of them is in the emulator by then; no fixed pause is needed.
    """
    def arrived():
        return sorted(i["name"] for i in emu.items(type="request", limit=10000) if i["name"].startswith("GET /" + prefix))

    deadline = time.monotonic() + timeout
    while len(arrived()) < count or stored_batches(storage):
        assert time.monotonic() < deadline, "not settled: %d of %d arrived, on disk: %s" % (
            len(arrived()), count, stored_batches(storage))
        time.sleep(0.25)
    for app in apps:
        app.stdin.write("go\n")
        app.stdin.flush()
    sentinels = ["GET /sentinel/%d" % app.pid for app in apps]
    wait_for_names(emu, "sentinel", len(apps), timeout=max(1.0, deadline - time.monotonic()) + 30)
    assert request_names(emu, "sentinel") == sorted(sentinels)
    return arrived()


def expected_names(prefix, count):
    return sorted("GET /%s/%d" % (prefix, i) for i in range(count))


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_a_503_storm_is_retried_and_every_item_arrives_once(emu, tmp_path):
    emu.add_fault(status=503, count=2)
    rc, out, err = run_app(emu.port, COUNT=20, PREFIX="storm", THEN="flush", STORAGE_DIR=tmp_path / "s")
    assert rc == 0, err
    assert request_names(emu, "storm") == expected_names("storm", 20)


def test_429_with_retry_after_is_honoured(emu, tmp_path):
    emu.add_fault(status=429, count=1, retry_after=2)
    started = time.time()
    rc, out, err = run_app(emu.port, COUNT=3, PREFIX="throttled", THEN="flush", STORAGE_DIR=tmp_path / "s")
    assert rc == 0, err
    assert time.time() - started >= 2.0
    assert request_names(emu, "throttled") == expected_names("throttled", 3)


def test_439_is_retried_instead_of_dropped(emu, tmp_path):
    emu.add_fault(status=439, count=1)
    rc, out, err = run_app(emu.port, COUNT=5, PREFIX="quota", THEN="flush", STORAGE_DIR=tmp_path / "s")
    assert rc == 0, err
    assert request_names(emu, "quota") == expected_names("quota", 5)


def test_206_with_mixed_codes_resends_only_the_retriable_items(emu, tmp_path):
    # One batch: the _OTELRESOURCE_ metric first, then the three requests.
    emu.add_fault(item_status=[200, 200, 500, 400], count=1)
    rc, out, err = run_app(emu.port, COUNT=3, PREFIX="mixed", THEN="flush", STORAGE_DIR=tmp_path / "s")
    assert rc == 0, err
    # item 0 accepted at once, item 1 retried and accepted, item 2 rejected for good (400).
    assert request_names(emu, "mixed") == ["GET /mixed/0", "GET /mixed/1"]
    assert "rejected by the endpoint (item status 400)" in err


def test_endpoint_down_30s_while_emitting_then_up_every_item_arrives_once(tmp_path):
    port = free_port()
    count, every = 120, 0.25  # 30 s of continuous traffic, endpoint down for the first 30 s
    storage = tmp_path / "s"
    app = start_app(port, COUNT=count, EVERY_S=every, PREFIX="outage", THEN="sentinel", STORAGE_DIR=storage)
    try:
        time.sleep(30)  # the outage itself (the scenario, not a wait for a result)
        with Emulator(port=port, db=":memory:") as emu:
            assert settle(emu, "outage", count, storage, [app], timeout=120) == expected_names("outage", count)
    finally:
        app.kill()
        app.communicate()


def test_items_stored_by_a_killed_process_are_delivered_by_the_next_one(tmp_path):
    port = free_port()
    storage = tmp_path / "shared-storage"
    rc, out, err = run_app(port, COUNT=10, PREFIX="orphan", THEN="flush-kill", STORAGE_DIR=storage)
    assert rc == -signal.SIGKILL, err
    assert any(storage.iterdir()), "the failed exports should be on disk"
    with Emulator(port=port, db=":memory:") as emu:
        # A restarted app that records nothing still drains what the dead one left behind.
        app = start_app(port, COUNT=0, THEN="sentinel", STORAGE_DIR=storage)
        try:
            names = settle(emu, "orphan", 10, storage, [app])
        finally:
            app.kill()
            app.communicate()
    assert names == expected_names("orphan", 10)


def test_disabled_offline_storage_touches_no_disk_even_on_a_read_only_file_system(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    port = free_port()  # nothing listens: exports fail, and storage would be needed
    script = (
        "mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
        "TMPDIR={ro} HOME={ro} {py} {app}"
    ).format(ro=ro, py=sys.executable, app=EMITTER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env.update(APPLICATIONINSIGHTS_CONNECTION_STRING=cs_for(port), DISABLE_STORAGE="1", COUNT="5", THEN="flush")
    proc = subprocess.run(["unshare", "-m", "--", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    if "unshare failed" in proc.stderr or "Operation not permitted" in proc.stderr:
        pytest.skip("mount namespaces are not available here: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    # Nothing could be delivered, and the loss is counted and said, not silent.
    assert "6 not delivered and offline storage is off" in proc.stderr
    assert list(ro.iterdir()) == []


def test_a_symlinked_storage_directory_is_refused_and_telemetry_still_flows(emu, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "storage"
    link.symlink_to(target)
    rc, out, err = run_app(emu.port, COUNT=3, PREFIX="linked", THEN="flush", STORAGE_DIR=link)
    assert rc == 0, err
    assert "symbolic link" in err and "offline storage is off" in err
    assert request_names(emu, "linked") == expected_names("linked", 3)
    assert list(target.iterdir()) == []


def test_a_storage_directory_owned_by_another_user_is_refused(emu, tmp_path):
    if os.getuid() != 0:
        pytest.skip("needs root to chown a directory to another user")
    other = tmp_path / "other"
    other.mkdir(mode=0o777)
    os.chown(other, 65534, 65534)
    rc, out, err = run_app(emu.port, COUNT=2, PREFIX="foreign", THEN="flush", STORAGE_DIR=other)
    assert rc == 0, err
    assert "owned by another user" in err
    assert request_names(emu, "foreign") == expected_names("foreign", 2)


def test_a_process_that_records_nothing_starts_no_thread():
    # Threads compared as sets before and after configure(), then again after the first item:
    # the export thread appears then, which proves the first look could have seen it.
    code = (
        "import threading, ai_core\n"
        "from opentelemetry import trace\n"
        "new = lambda: sorted(t.name for t in set(threading.enumerate()) - before)\n"
        "before = set(threading.enumerate())\n"
        "ai_core.configure(connection_string=%r, disable_offline_storage=True)\n"
        "print(new())\n"
        "trace.get_tracer('t').start_span('first').end()\n"
        "print(new())\n" % cs_for(9)
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[]", "['ai_core-export']"]


def test_sigterm_flushes_what_was_recorded(emu, tmp_path):
    app = start_app(emu.port, COUNT=4, PREFIX="sigterm", THEN="wait-signal", STORAGE_DIR=tmp_path / "s")
    try:
        assert app.stdout.readline().strip() == "waiting"
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=20)
    finally:
        app.kill()
    assert app.returncode == -signal.SIGTERM  # the default action still happens after the flush
    assert request_names(emu, "sigterm") == expected_names("sigterm", 4)


def test_four_processes_sharing_one_storage_directory_lose_nothing_and_send_nothing_twice(tmp_path):
    port = free_port()
    storage = tmp_path / "shared"
    # Four apps fail to export (endpoint down), each storing its items in the same directory...
    failing = [start_app(port, COUNT=15, PREFIX="p%d" % n, THEN="flush", STORAGE_DIR=storage) for n in range(4)]
    for proc in failing:
        proc.communicate(timeout=60)
    with Emulator(port=port, db=":memory:") as emu:
        # ...then four fresh ones drain that directory at the same time.
        drainers = [start_app(port, COUNT=0, THEN="sentinel", STORAGE_DIR=storage) for _ in range(4)]
        try:
            names = settle(emu, "p", 60, storage, drainers)
        finally:
            for proc in drainers:
                proc.kill()
                proc.communicate()
    assert names == sorted(expected_names("p%d" % n, 15)[i] for n in range(4) for i in range(15))


def test_an_item_too_large_for_the_endpoint_is_trimmed_and_delivered(emu, tmp_path):
    from subprocess_helpers import run_python

    out = run_python(
        f"""
        import logging, ai_core
        tel = ai_core.configure(connection_string={emu.connection_string!r}, storage_directory={str(tmp_path / "s")!r})
        extra = {{"blob%d" % i: "x" * 8000 for i in range(8)}}
        logging.getLogger("big").warning("y" * 30000, extra=extra)
        print("flushed", tel.force_flush(20))
        """
    )
    assert out.returncode == 0, out.stderr
    (item,) = emu.wait_for_items(count=1, timeout=60, type="trace")
    base = item["envelope"]["data"]["baseData"]
    assert base["message"] == "y" * 8192  # trimmed, not lost
    assert base["properties"]["blob0"] == "x" * 1024
    # Trimmed before its first attempt (the envelope is trimmed before it is encoded), so the
    # endpoint never had to refuse it.
    assert emu.rejected() == []


def test_a_batch_refused_as_too_large_is_split_and_every_item_arrives(emu):
    from ai_core.delivery.sender import Sender
    from ai_core.delivery.transport import Transport

    def message(i):
        return {"name": "Microsoft.ApplicationInsights.Message", "time": "2024-05-01T10:00:00.000000Z",
                "iKey": IKEY, "tags": {"ai.cloud.role": "split"},
                "data": {"baseType": "MessageData", "baseData": {"ver": 2, "message": "m%d" % i}}}

    emu.add_fault(status=413, count=1)  # the emulator lists every item with 413, like a gateway
    sender = Sender(Transport(emu.url + "/v2.1/track"), storage=None, sleep=lambda s: None)
    try:
        assert sender.send([message(i) for i in range(6)]) is True
    finally:
        sender.close()
    assert sorted(i["name"] for i in emu.items(type="trace")) == ["m%d" % i for i in range(6)]


def test_sigterm_with_the_endpoint_down_keeps_the_items_on_disk_for_the_next_process(tmp_path):
    port = free_port()  # nothing listens
    storage = tmp_path / "s"
    app = start_app(port, COUNT=6, PREFIX="termdown", THEN="wait-signal", STORAGE_DIR=storage)
    try:
        assert app.stdout.readline().strip() == "waiting"
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=30)
    finally:
        app.kill()
    assert app.returncode == -signal.SIGTERM
    with Emulator(port=port, db=":memory:") as emu:
        drainer = start_app(port, COUNT=0, THEN="sentinel", STORAGE_DIR=storage)
        try:
            names = settle(emu, "termdown", 6, storage, [drainer])
        finally:
            drainer.kill()
            drainer.communicate()
    assert names == expected_names("termdown", 6)
