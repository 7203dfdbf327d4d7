"""The README's first command: ``./scripts/demo``.

The driver (``scripts/demo.py``) runs for real in ``--once`` mode with this test run's Python
(not through ``scripts/demo``, which would reinstall the environment): the emulator and the
stand-in apps are real processes talking HTTP on loopback. ``scripts/demo`` itself is run
too, with its installer and interpreter replaced by stubs, to show it installs the test extra
and hands every argument to the driver unchanged. A third test presses Ctrl-C on the
long-running mode and checks that every process it started is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "scripts" / "demo.py"
COLUMNS = ["requests", "dependencies", "exceptions", "traces", "events", "metrics"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_")) and k != "DEMO_ONCE"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _table(output: str) -> Dict[str, Dict[str, int]]:
    """The rows of the printed table: role -> column -> number."""
    lines = output.splitlines()
    start = lines.index("Telemetry received by the emulator:")
    header = lines[start + 1].split()
    assert header == ["role"] + COLUMNS, header
    rows: Dict[str, Dict[str, int]] = {}
    for line in lines[start + 2:]:
        cells = line.split()
        if len(cells) != len(header) or not all(c.isdigit() for c in cells[1:]):
            break
        rows[cells[0]] = dict(zip(COLUMNS, map(int, cells[1:])))
    return rows


def test_demo_once_delivers_every_role(tmp_path: Path) -> None:
    port = _free_port()
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(DRIVER), "--once", "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=str(ROOT), env=_env(), capture_output=True, text=True, timeout=60,
    )
    elapsed = time.monotonic() - began
    report = "exit %s after %.1f s\n--- stdout\n%s\n--- stderr\n%s" % (
        done.returncode, elapsed, done.stdout, done.stderr)
    assert done.returncode == 0, report
    assert elapsed < 60, report

    table = _table(done.stdout)
    for role in ("storefront", "inventory"):
        assert role in table, report
        assert table[role]["requests"] > 0, report
        assert table[role]["dependencies"] > 0, report
        assert table[role]["exceptions"] >= 1, report  # the failing checkout, on both sides
        assert table[role]["traces"] > 0, report
        assert table[role]["metrics"] > 0, report
    assert table["storefront"]["events"] >= 1, report  # UserLoggedIn
    assert table["total"]["exceptions"] >= 1, report
    assert "items rejected by schema validation: 0" in done.stdout, report
    assert re.search(r"application map: storefront -> inventory \(\d+ calls, [1-9]\d* failed", done.stdout), report
    if "django-shop" in table:  # its order confirmation runs in the Celery worker (README, "Celery")
        assert table["django-shop-worker"]["requests"] >= 1, report
        assert re.search(r"application map: django-shop -> django-shop-worker \(1 calls, 0 failed", done.stdout), report

    viewer = re.search(r"^Viewer: (http://127\.0\.0\.1:(\d+)/)$", done.stdout, re.M)
    assert viewer, report
    if "is busy" not in done.stdout:  # another process may take the port between our check and its
        assert int(viewer.group(2)) == port, report
    assert "Demo OK" in done.stdout, report

    # The traffic the demo sends (README, "Set up on a fresh machine"), and the answers it expects.
    for method, path, status in [("GET", "/", 200), ("POST", "/login", 200), ("GET", "/reports/stock", 200),
                                 ("POST", "/checkout", 502)]:
        line = r"^  storefront\s+%s\s+%s\s+-> %d\s" % (method, re.escape(path), status)
        assert re.search(line, done.stdout, re.M), (method, path, report)
    slow = re.search(r"/reports/stock\s+-> 200\s+(\d+) ms", done.stdout)
    assert slow and int(slow.group(1)) >= 1000, report

    # Logs and the database stayed in the state directory; no process outlived the driver.
    logs = tmp_path / "state" / "logs"
    assert {"emulator.log", "inventory.log", "storefront.log"} <= {p.name for p in logs.iterdir()}
    assert "telemetry flushed: True" in (logs / "storefront.log").read_text()
    assert "telemetry flushed: True" in (logs / "inventory.log").read_text()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(viewer.group(2)))) != 0, "the emulator is still listening"


def test_demo_script_installs_and_passes_arguments_through(tmp_path: Path) -> None:
    """Run the real scripts/demo with stubbed ensure_venv and interpreter: what does it call?"""
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "demo", tmp_path / "scripts" / "demo")
    calls = tmp_path / "calls.txt"
    (tmp_path / "scripts" / "lib.sh").write_text(
        'ensure_system_packages() { echo "ensure_system_packages" >> "$CALLS"; }\n'
        'ensure_venv() { echo "ensure_venv $1" >> "$CALLS"; }\n')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    python = tmp_path / ".venv" / "bin" / "python"
    python.write_text('#!/bin/sh\n'
                      'echo "python cwd=$(pwd)" >> "$CALLS"\n'
                      'for a in "$@"; do echo "arg $a" >> "$CALLS"; done\n'
                      'echo "DEMO_ONCE=$DEMO_ONCE" >> "$CALLS"\n')
    python.chmod(0o755)

    env = dict(_env(), CALLS=str(calls), DEMO_ONCE="1")
    done = subprocess.run([str(tmp_path / "scripts" / "demo"), "--once", "--port", "9123", "--state-dir", "a b"],
                          cwd="/", env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        "ensure_system_packages",  # redis-server, for the Celery worker of the Django example
        "ensure_venv .[test]",
        "python cwd=%s" % tmp_path.resolve(),
        "arg scripts/demo.py", "arg --once", "arg --port", "arg 9123", "arg --state-dir", "arg a b",
        "DEMO_ONCE=1",
    ]
    # The copy we ran is the repository's script, executable as the README says.
    assert os.access(ROOT / "scripts" / "demo", os.X_OK)
    assert "demo not ready yet" not in (ROOT / "scripts" / "demo").read_text()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def test_demo_keeps_running_until_ctrl_c_then_stops_everything(tmp_path: Path) -> None:
    port = _free_port()
    demo = subprocess.Popen(
        [sys.executable, str(DRIVER), "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=str(ROOT), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # A test runner may have been started with SIGINT ignored (a background job): undo it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: List[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 120  # several servers starting on a loaded machine
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Metrics arrive every 60 s. Press Ctrl-C"):
                break
        output = "\n".join(lines)
        assert lines and lines[-1].startswith("Metrics arrive"), output
        viewer = re.search(r"^Viewer: (\S+)$", output, re.M)
        shop = re.search(r"^Shop:\s+(\S+)", output, re.M)
        assert viewer and shop, output
        inventory = re.search(r"^App:\s+inventory\s+(\S+)", output, re.M)
        assert inventory, output
        table = _table(output)
        assert table["storefront"]["requests"] > 0 and table["inventory"]["requests"] > 0, output
        urls = [viewer.group(1) + "api/stats", shop.group(1) + "health", inventory.group(1) + "/health"]
        assert all(_answers(u) for u in urls), output

        time.sleep(0.5)
        assert demo.poll() is None, output  # still running
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
        assert demo.returncode == 0, output + rest
        assert "Stopping." in rest, rest
        assert not any(_answers(u) for u in urls), "a child process outlived the demo"
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()


def test_the_readme_demo_command_itself_runs_once(tmp_path: Path) -> None:
    """``./scripts/demo --once`` for real: installer (a no-op when .venv is current), driver,
    emulator and apps."""
    port = _free_port()
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo"), "--once", "--port", str(port), "--state-dir", str(tmp_path / "state")],
        cwd=str(tmp_path), env=_env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Demo OK" in proc.stdout
    assert "Viewer: http://127.0.0.1:%d/" % port in proc.stdout


def _demo_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo_driver", DRIVER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_port_a_previous_demo_just_left_is_not_busy() -> None:
    """A demo that just stopped leaves TIME_WAIT connections on its port; the next demo must
    take the same port (the README's URL), and still move on when something really listens."""
    demo = _demo_module()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()   # the server side closes first: its end of the connection stays in TIME_WAIT
    client.recv(1)   # wait for the FIN to arrive, then finish the close
    client.close()
    listener.close()
    with socket.socket() as plain:  # what the old check did: a plain bind fails on TIME_WAIT
        assert plain.connect_ex(("127.0.0.1", port)) != 0, "nothing should listen on %d" % port
    assert demo.emulator_port(port) == port

    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen(1)
        assert demo.emulator_port(port) != port
