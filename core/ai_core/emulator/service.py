"""``Emulator``: the whole emulator in-process, its server on a background thread.

For tests, the demo and end-to-end tests::

    with Emulator(port=0, db=":memory:") as emu:
        configure(connection_string=emu.connection_string)
        ...
        requests = emu.wait_for_items(type="request", count=1)
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterable, List, Optional

from ai_core.emulator.app import EmulatorApp
from ai_core.emulator.appmap import build_map
from ai_core.emulator.request_guard import HostPolicy
from ai_core.emulator.server import EmulatorHTTPServer

EMULATOR_IKEY = "00000000-0000-0000-0000-000000000000"


def connection_string(url: str, ikey: str = EMULATOR_IKEY) -> str:
    """What an app points at the emulator: ingestion and Live Metrics both at ``url``."""
    return "InstrumentationKey=%s;IngestionEndpoint=%s;LiveEndpoint=%s/" % (ikey, url, url.rstrip("/"))


class Emulator:
    """An emulator server bound to ``host:port`` (0 picks a free port) storing into ``db``.

    It answers requests for loopback names and addresses, ``host`` and ``allowed_hosts`` only
    (a foreign ``Host`` gets 421: protection against DNS rebinding)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", db: str = ":memory:",
                 log_requests: bool = False, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = EmulatorApp(db)
        # Requests naming another host are refused (DNS rebinding): see request_guard.
        self._server = EmulatorHTTPServer((host, port), self.app, log_requests=log_requests,
                                          hosts=HostPolicy(host, allowed_hosts))
        self._thread: Optional[threading.Thread] = None
        self.host = host
        self.port: int = self._server.server_address[1]

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> "Emulator":
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name="ai-emulator-%d" % self.port, daemon=True)
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread (the CLI) until ``stop()`` or KeyboardInterrupt."""
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()
        self._server.close_connections()
        self.app.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = "[%s]" % self.host if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return "http://%s:%d" % (host, self.port)

    @property
    def connection_string(self) -> str:
        return connection_string(self.url)

    # -- queries (the same dicts as the JSON API) ------------------------------------------

    def items(self, **filters: Any) -> List[Dict[str, Any]]:
        """``GET /api/items`` in-process: type, role, operation_id, since, until, success, q,
        after_id, limit, offset."""
        return self.app.store.items(**filters)

    def item(self, item_id: int) -> Optional[Dict[str, Any]]:
        return self.app.store.item(item_id)

    def operation(self, operation_id: str) -> List[Dict[str, Any]]:
        return self.app.store.operation(operation_id)

    def rejected(self, limit: int = 100) -> List[Dict[str, Any]]:
        return self.app.store.rejected(limit=limit)

    def roles(self) -> List[Dict[str, Any]]:
        return self.app.store.roles()

    def app_map(self) -> Dict[str, Any]:
        return build_map(self.app.store)

    def stats(self) -> Dict[str, Any]:
        return {"received": self.app.stats.snapshot(), "stored": self.app.store.counts()}

    def wait_for_items(self, count: int = 1, timeout: float = 10.0,
                       **filters: Any) -> List[Dict[str, Any]]:
        """Poll until at least ``count`` items match ``filters``; ``TimeoutError`` otherwise."""
        filters.setdefault("limit", max(count, 100))
        deadline = time.monotonic() + timeout
        while True:
            found = self.items(**filters)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError("%d of %d %s item(s) after %.1fs" % (
                    len(found), count, filters.get("type") or "", timeout))
            time.sleep(0.05)

    # -- control ---------------------------------------------------------------------------

    def add_fault(self, **spec: Any) -> None:
        """Queue a fault (same fields as ``POST /api/faults``)."""
        self.app.faults.add(spec)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def clear(self) -> None:
        """Delete all stored items and rejected items and reset the counters."""
        self.app.store.clear()
        self.app.stats.reset()
