"""``python -m ai_core doctor`` says whether Live Metrics would stream, and to where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = "InstrumentationKey=00000000-0000-0000-0000-0000000000aa"


def doctor(cs: str, tmp_path: Path) -> str:
    # Only the connection string given on the command line: no settings module or app another
    # test left in this process's environment.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_")) and k not in ("DJANGO_SETTINGS_MODULE", "FLASK_APP")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "ai_core", "doctor", "--no-send", "--connection-string", cs],
                          cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def test_doctor_names_the_live_endpoint(tmp_path: Path) -> None:
    out = doctor(KEY + ";IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;"
                       "LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/", tmp_path)
    assert "live metrics: streams to https://westeurope.livediagnostics.monitor.azure.com (LiveEndpoint" in out


def test_doctor_says_why_a_loopback_only_connection_string_does_not_stream(tmp_path: Path) -> None:
    out = doctor(KEY + ";IngestionEndpoint=http://127.0.0.1:8990", tmp_path)
    assert "live metrics: off: the connection string's only endpoint is a loopback IngestionEndpoint" in out
