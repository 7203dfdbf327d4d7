"""Serve tests/flask/site (the ``flasksite`` app factory) with a real server and read back what
the emulator received for each request the test made.

Shared by the Flask adapter tests: one server run per scenario, a graceful stop, then
assertions. The process helpers (free port, HTTP request, start and stop) are django_site's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from django_site import BIN, free_port, request, stop, wait_until_serving

SITE = Path(__file__).resolve().parents[1] / "flask" / "site"

__all__ = ["BIN", "SITE", "Served", "free_port", "init_db", "request", "site_env", "start", "stop",
           "wait_until_serving"]


def site_env(db: Path, connection_string: Optional[str], storage: Path, **ai: Any) -> Dict[str, str]:
    """The server's environment; ``ai`` adds APPLICATION_INSIGHTS_* keys (``TRUSTED_PROXIES=1``)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "FLASKSITE_", "FLASK_", "WERKZEUG_"))}
    # Each run has its own offline storage: nothing left over from another test is drained here.
    ai.setdefault("STORAGE_DIRECTORY", str(storage))
    env.update(FLASKSITE_DB=str(db), FLASKSITE_AI=json.dumps(ai), PYTHONPATH=str(SITE))
    if connection_string:
        env["FLASKSITE_CONNECTION_STRING"] = connection_string
    return env


def init_db(env: Dict[str, str]) -> None:
    """Create the site's SQLite tables (with telemetry off: this SQL is not the test's)."""
    quiet = dict(env)
    quiet.pop("FLASKSITE_CONNECTION_STRING", None)
    subprocess.run([sys.executable, "-c", "from flasksite import db; db.init_db()"], cwd=SITE, env=quiet,
                   check=True, capture_output=True, timeout=120)


def start(cmd: List[str], env: Dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=SITE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


class Served:
    """What one server run answered, and the emulator that received its telemetry.

    Each request carries a unique ``t=`` token in its query string, so its request item is
    found by it; everything else of that request by its operation id.
    """

    def __init__(self, emu: Any, port: int) -> None:
        self.emu = emu
        self.port = port
        self.tokens: Dict[str, str] = {}
        self.status: Dict[str, int] = {}
        self.server_output = ""

    def get(self, key: str, path: str, **kwargs: Any) -> bytes:
        token = self.tokens[key] = "%s-%s" % (key, uuid.uuid4().hex[:8])
        sep = "&" if "?" in path else "?"
        status, _headers, body = request(self.port, kwargs.pop("method", "GET"), "%s%st=%s" % (path, sep, token),
                                         **kwargs)
        self.status[key] = status
        return body

    def request_of(self, key: str) -> Dict[str, Any]:
        found = self.emu.items(type="request", q=self.tokens[key])
        assert len(found) == 1, "%s: %d request items" % (key, len(found))
        return found[0]["envelope"]

    def operation(self, key: str) -> List[Dict[str, Any]]:
        op = self.request_of(key)["tags"]["ai.operation.id"]
        return [item["envelope"] for item in self.emu.operation(op)]

    def of_type(self, key: str, base_type: str) -> List[Dict[str, Any]]:
        return [e for e in self.operation(key) if e["data"]["baseType"] == base_type]

    def nothing_for(self, key: str) -> bool:
        return self.emu.items(q=self.tokens[key]) == []


def duration_s(envelope: Dict[str, Any]) -> float:
    """A request's duration in seconds (``"0.00:00:00.912345"``)."""
    hours, minutes, seconds = envelope["data"]["baseData"]["duration"].split(".", 1)[1].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def new_token() -> str:
    return uuid.uuid4().hex[:8]
