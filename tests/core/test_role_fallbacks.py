"""The role of everything a process sends (README, "Options": ``role_name`` / ``role_instance``,
then ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``): the environment as a fallback, the
explicit options winning, and a configured ``role_instance`` that survives gunicorn's fork of
a ``--preload`` master into its workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Optional, Set

import pytest

from ai_core.emulator import Emulator
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import run_python

WAIT_S = 60.0
HOST = socket.gethostname()


@pytest.mark.parametrize("env, options, role, instance", [
    ({"OTEL_SERVICE_NAME": "billing"}, "", "billing", HOST),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=billing,service.instance.id=billing-3"}, "", "billing", "billing-3"),
    # The official rule: a namespace is put in front of the name.
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop,service.name=billing"}, "", "shop.billing", HOST),
    # OpenTelemetry's own precedence: OTEL_SERVICE_NAME over service.name in the attributes.
    ({"OTEL_SERVICE_NAME": "billing", "OTEL_RESOURCE_ATTRIBUTES": "service.name=ignored"}, "", "billing", HOST),
    # Explicit options win over both variables.
    ({"OTEL_SERVICE_NAME": "billing", "OTEL_RESOURCE_ATTRIBUTES": "service.name=x,service.instance.id=billing-3"},
     "role_name='checkout', role_instance='checkout-1',", "checkout", "checkout-1"),
], ids=["service-name", "resource-attributes", "namespace", "service-name-wins-over-attributes", "options-win"])
def test_role_falls_back_to_the_environment_and_explicit_options_win(
        emulator: Emulator, env: Dict[str, str], options: str, role: str, instance: str) -> None:  # noqa: F811
    out = run_python(f"""
import ai_core
tel = ai_core.configure(connection_string={emulator.connection_string!r}, disable_offline_storage=True, {options})
ai_core.track_event("role probe")
tel.shutdown()
""", env=env)
    assert out.returncode == 0, out.stderr
    (event,) = emulator.wait_for_items(1, WAIT_S, type="event")
    assert (event["role"], event["role_instance"]) == (role, instance)
    assert event["envelope"]["tags"]["ai.internal.nodeName"] == instance


PRELOADED_APP = """
import logging, os, ai_core
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

# At import: with --preload this runs in the gunicorn master, before the workers are forked.
ai_core.configure(role_name="preloaded", role_instance="web-7", disable_offline_storage=True)
log = logging.getLogger("preloaded")

def app(environ, start_response):
    log.warning("served by pid %d", os.getpid())
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

application = OpenTelemetryMiddleware(app)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_pid(port: int) -> Optional[int]:
    # A new connection per request, so the kernel spreads them over the workers.
    req = urllib.request.Request("http://127.0.0.1:%d/" % port, headers={"Connection": "close"})
    try:
        return int(urllib.request.urlopen(req, timeout=10).read())
    except OSError:
        return None


def test_role_instance_is_unchanged_in_gunicorn_preload_workers(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "preloaded_app.py").write_text(PRELOADED_APP)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env["APPLICATIONINSIGHTS_CONNECTION_STRING"] = emulator.connection_string
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    server = subprocess.Popen([gunicorn, "--preload", "-w", "2", "-b", "127.0.0.1:%d" % port, "preloaded_app:application"],
                              cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pids: Set[int] = set()
        deadline = time.monotonic() + WAIT_S
        while len(pids) < 2 and time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[1]
            with ThreadPoolExecutor(4) as pool:
                pids.update(p for p in pool.map(lambda _: _get_pid(port), range(8)) if p is not None)
        assert len(pids) == 2, "both workers should have served"
        server.send_signal(signal.SIGTERM)  # graceful: each worker flushes on exit
        server.communicate(timeout=WAIT_S)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()

    def served_pids() -> Set[int]:
        return {int(i["name"].rsplit(" ", 1)[1]) for i in emulator.items(type="trace", limit=10000)}

    deadline = time.monotonic() + WAIT_S
    while not pids <= served_pids() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pids <= served_pids(), "a log line from each worker"
    items = emulator.items(limit=10000)
    assert {i["type"] for i in items} >= {"request", "trace"}
    assert {(i["role"], i["role_instance"]) for i in items} == {("preloaded", "web-7")}
    assert {i["envelope"]["tags"]["ai.internal.nodeName"] for i in items} == {"web-7"}
