"""The ``live_metrics`` option and configure(): on where the connection string implies a live
endpoint, off otherwise, the three spellings, and a configured process streaming to the service."""

from __future__ import annotations

import json

import pytest

from ai_core.errors import ConfigurationError
from ai_core.options import resolve_options
from django_ai.options import options_from_settings as options_from_django_settings
from flask_ai.options import options_from_config as options_from_flask_config
from fake_live_service import FakeLiveService
from subprocess_helpers import run_python

KEY = "InstrumentationKey=00000000-0000-0000-0000-0000000000aa"


def test_the_option_has_the_three_spellings() -> None:
    assert resolve_options({"live_metrics": False}).live_metrics is False
    assert resolve_options(options_from_django_settings({"LIVE_METRICS": False})).live_metrics is False
    assert resolve_options(options_from_flask_config({"APPLICATION_INSIGHTS_LIVE_METRICS": True})).live_metrics is True
    assert resolve_options({}).live_metrics is None  # the default: decided by the connection string


def test_a_string_is_refused_naming_the_option() -> None:
    with pytest.raises(ConfigurationError, match="live_metrics.*True or False"):
        resolve_options({"live_metrics": "false"})


PROBE = """
import json, logging, sys
import ai_core
from ai_core.live_metrics.hooks import LiveSpanProcessor
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
tel = ai_core.configure(connection_string=sys.argv[1] if len(sys.argv) > 1 else CS, role_name="shop", **OPTS)
procs = tel.tracer_provider._active_span_processor._span_processors
print(json.dumps({"live": any(isinstance(p, LiveSpanProcessor) for p in procs)}))
tel.shutdown()
"""


def probe(cs: str, **opts: object) -> "tuple[bool, str]":
    code = PROBE.replace("CS", repr(cs)).replace("**OPTS", "**%r" % (opts,))
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["live"], done.stderr


def test_a_loopback_only_connection_string_gets_no_live_metrics() -> None:
    live, _ = probe(KEY + ";IngestionEndpoint=http://127.0.0.1:9", disable_offline_storage=True)
    assert not live


def test_asking_for_live_metrics_without_a_live_endpoint_says_why_it_is_off() -> None:
    live, stderr = probe(KEY + ";IngestionEndpoint=http://127.0.0.1:9", disable_offline_storage=True, live_metrics=True)
    assert not live
    assert "Live Metrics is off" in stderr and "LiveEndpoint" in stderr


def test_live_metrics_false_keeps_it_off_with_a_live_endpoint() -> None:
    live, _ = probe(KEY + ";IngestionEndpoint=http://127.0.0.1:9;LiveEndpoint=http://127.0.0.1:9",
                    disable_offline_storage=True, live_metrics=False)
    assert not live


STREAM = """
import os, sys, time
import ai_core
from opentelemetry import trace
tel = ai_core.configure(connection_string=CS, role_name="shop", role_instance="web-7", disable_offline_storage=True)
trace.get_tracer("probe").start_span("first item").end()
deadline = time.time() + 60
while time.time() < deadline and not os.path.exists(DONE):
    time.sleep(0.05)
tel.shutdown()
print(os.getpid())
"""


def test_a_configured_process_pings_the_live_endpoint_after_its_first_item(tmp_path) -> None:
    done = tmp_path / "done"
    with FakeLiveService() as svc:
        cs = KEY + ";IngestionEndpoint=http://127.0.0.1:9;LiveEndpoint=" + svc.url
        code = STREAM.replace("CS", repr(cs)).replace("DONE", repr(str(done)))
        import subprocess
        import sys

        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            calls = svc.wait_for(lambda calls: any(c.operation == "ping" for c in calls), timeout=60)
        finally:
            done.write_text("x")
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        ping = [c for c in calls if c.operation == "ping"][0]
        assert ping.headers["x-ms-qps-role-name"] == "shop"
        assert ping.headers["x-ms-qps-instance-name"] == "web-7 (pid %s)" % out.strip()
