"""Serve tests/fastapi/site/ordersapp.py with a real server, drive it, stop it gracefully.

Shared by the FastAPI adapter tests: one server run per scenario, then assertions on what the
emulator received (a graceful stop flushes every worker, so nothing is still in flight).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional

from ai_core.emulator import Emulator
from django_site import BIN, free_port, request, stop, wait_until_serving  # noqa: F401 (shared helpers)

SITE = Path(__file__).resolve().parents[1] / "fastapi" / "site"
ROOT = Path(__file__).resolve().parents[2]


def app_env(connection_string: Optional[str], storage: Path, **ai: Any) -> Dict[str, str]:
    """The server's environment; ``ai`` are ApplicationInsightsMiddleware keywords (JSON-able)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "ORDERSAPP_"))}
    ai.setdefault("storage_directory", str(storage))  # nothing left over from another test is drained here
    env.update(ORDERSAPP_AI=json.dumps(ai), PYTHONPATH=str(SITE))
    if connection_string:
        env["ORDERSAPP_CONNECTION_STRING"] = connection_string
    return env


def start(cmd: List[str], env: Dict[str, str]):
    import subprocess

    return subprocess.Popen(cmd, cwd=SITE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def uvicorn(port: int, *args: str) -> List[str]:
    return [str(BIN / "uvicorn"), "ordersapp:app", "--port", str(port), "--no-access-log", *args]


class Served:
    """What one server run answered, and the emulator that received its telemetry.

    Each request carries a unique token in its query string (``?t=...``), so its items are
    found by searching for it.
    """

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.tokens: Dict[str, str] = {}
        self.status: Dict[str, int] = {}
        self.bodies: Dict[str, bytes] = {}
        self.server_output = ""
        self.websocket_replies: list = []

    def get(self, port: int, key: str, path: str, **kwargs: Any) -> None:
        token = self.tokens[key] = "%s-%s" % (key, uuid.uuid4().hex[:8])
        sep = "&" if "?" in path else "?"
        status, _, body = request(port, kwargs.pop("method", "GET"), "%s%st=%s" % (path, sep, token), **kwargs)
        self.status[key] = status
        self.bodies[key] = body

    def request_of(self, key: str) -> Dict[str, Any]:
        found = self.emu.items(type="request", q=self.tokens[key])
        assert len(found) == 1, "%s: %d request items\n%s" % (key, len(found), self.server_output)
        return found[0]["envelope"]

    def operation(self, key: str) -> List[Dict[str, Any]]:
        op = self.request_of(key)["tags"]["ai.operation.id"]
        return [item["envelope"] for item in self.emu.operation(op)]

    def nothing_for(self, key: str) -> bool:
        return self.emu.items(q=self.tokens[key]) == []
