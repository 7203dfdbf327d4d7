"""Who called: the user (Starlette's AuthenticationMiddleware wherever it sits, or a callable
for apps that authenticate in a dependency) and the client IP behind proxies, with uvicorn's
own proxy-header handling on and off. One server run per case, then a graceful stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from fastapi_site import Served, app_env, free_port, start, stop, uvicorn, wait_until_serving


@pytest.fixture()
def serve(tmp_path: Path):
    """``serve(server_args, env, calls, **options)``: one server run against a fresh emulator."""
    with Emulator(port=0, db=":memory:") as emu:

        def run(args: List[str], env_extra: Dict[str, str], calls: List[tuple], **ai: Any) -> Served:
            env = app_env(emu.connection_string, tmp_path / "storage", **ai)
            env.update(env_extra)
            port = free_port()
            proc = start(uvicorn(port, *args), env)
            s = Served(emu)
            try:
                wait_until_serving(port, proc)
                for key, path, headers in calls:
                    s.get(port, key, path, headers=headers)
            finally:
                s.server_output = stop(proc)
            return s

        yield run


@pytest.mark.parametrize("env_extra, path, headers", [
    ({"ORDERSAPP_AUTH_OUTSIDE": "1"}, "/account", {"Authorization": "Bearer alice"}),  # added after ours
    ({"ORDERSAPP_USER": "callable"}, "/me", {"X-User": "alice"}),  # user_id=callable, set by a dependency
], ids=["authentication-middleware-outside", "callable"])
def test_the_user_is_read_when_the_response_starts(serve, env_extra: dict, path: str, headers: dict) -> None:
    s = serve(["--workers", "2"], env_extra, [("signed", path, headers), ("anonymous", path, {})])
    assert s.status == {"signed": 200, "anonymous": 200}, s.server_output
    assert b"alice" in s.bodies["signed"]
    assert s.request_of("signed")["tags"]["ai.user.authUserId"] == "alice"
    deps = [e for e in s.operation("signed") if e["data"]["baseType"] == "RemoteDependencyData"]
    assert all(d["tags"].get("ai.user.authUserId") == "alice" for d in deps)
    assert "ai.user.authUserId" not in s.request_of("anonymous")["tags"]


SPOOFED = {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"}  # the client wrote 6.6.6.6; our proxy appended 203.0.113.9


@pytest.mark.parametrize("server_args, trusted_proxies", [
    ([], 1),  # uvicorn's default --proxy-headers rewrites the peer (we connect from 127.0.0.1)
    (["--no-proxy-headers"], 1),
    (["--forwarded-allow-ips", "*"], ["127.0.0.0/8"]),  # uvicorn believes the leftmost entry
    (["--no-proxy-headers"], ["127.0.0.0/8"]),
], ids=["proxy-headers-hops", "no-proxy-headers-hops", "proxy-headers-all-networks", "no-proxy-headers-networks"])
def test_client_ip_is_the_same_with_uvicorns_proxy_headers_on_or_off(serve, server_args: list,
                                                                      trusted_proxies: Any) -> None:
    s = serve(server_args, {}, [("spoofed", "/api/orders/1", SPOOFED), ("direct", "/api/orders/1", {})],
              trusted_proxies=trusted_proxies)
    assert s.request_of("spoofed")["tags"]["ai.location.ip"] == "203.0.113.9"
    assert s.request_of("direct")["tags"]["ai.location.ip"] == "127.0.0.1"


@pytest.mark.parametrize("server_args, spoofed_ip", [
    ([], "203.0.113.9"),  # uvicorn's own reading for a proxy on 127.0.0.1: from the right
    (["--no-proxy-headers"], "127.0.0.1"),  # the socket peer
])
def test_without_trusted_proxies_the_client_ip_is_the_peer_the_server_gives(serve, server_args: list,
                                                                             spoofed_ip: str) -> None:
    s = serve(server_args, {}, [("spoofed", "/api/orders/1", SPOOFED)])
    assert s.request_of("spoofed")["tags"]["ai.location.ip"] == spoofed_ip
