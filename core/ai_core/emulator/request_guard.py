"""Refusing what a hostile web page can make a developer's browser send to the emulator.

Two attacks, two rules (as local development servers such as Vite and webpack-dev-server do):

- **DNS rebinding**: a page of ``attacker.example`` whose name then resolves to 127.0.0.1 is
  same-origin with the emulator and could read every captured item (URLs, SQL, user IDs). Its
  requests still carry ``Host: attacker.example``, so only loopback names and addresses
  (``localhost``, ``*.localhost``, 127.0.0.0/8, ``[::1]``), the host given to ``--host`` and the
  names given to ``--allow-host`` are answered; anything else gets 421 with the reason. Served on
  every interface (``--host 0.0.0.0``), any IP address is answered too: other machines and
  containers reach it by address, and no attacker's page can be loaded from an address (the
  attack needs a name whose DNS answer changes).
  A request without ``Host`` (no browser sends one) is answered.
- **Cross-site forms**: any page can submit a form to ``http://127.0.0.1:8990/api/items``
  without reading the answer. The state-changing API (every method but GET/HEAD/OPTIONS under
  ``/api/``) accepts only a JSON ``Content-Type`` or an ``X-Requested-With`` header: a form can
  send neither, and a cross-origin script cannot either without a CORS pre-flight, which the
  API never grants.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional, Union

READ_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def _host_name(header: str) -> str:
    """The name or address of a ``Host`` header, without port and brackets, lower case."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _ip(name: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class HostPolicy:
    """Which ``Host`` headers are answered: loopback, ``serve_host`` (any address when it is a
    wildcard) and ``extra``."""

    def __init__(self, serve_host: str = "127.0.0.1", extra: Iterable[str] = ()) -> None:
        names = {_host_name(n) for n in extra if n}
        self.any_address = serve_host in _WILDCARDS
        if not self.any_address:
            names.add(_host_name(serve_host))
        self.names = frozenset(names)

    def refusal(self, header: Optional[str]) -> Optional[str]:
        """``None`` when a request with this ``Host`` may be answered, else the reason."""
        if header is None:
            return None
        name = _host_name(header)
        address = _ip(name)
        if (name == "localhost" or name.endswith(".localhost") or name in self.names
                or (address is not None and (address.is_loopback or self.any_address))):
            return None
        return ("Host %r is not a loopback name or address: the emulator answers only "
                "localhost, 127.0.0.1 and [::1] (protection against DNS rebinding); start it "
                "with --allow-host %s to serve that name" % (header, name or "<name>"))


def form_refusal(method: str, path: str, content_type: Optional[str],
                 requested_with: Optional[str]) -> Optional[str]:
    """``None`` when a state-changing API request could not come from a cross-site form,
    else the reason."""
    if method in READ_METHODS or not (path == "/api" or path.startswith("/api/")):
        return None
    if requested_with is not None:
        return None
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return None
    return ("%s %s changes the emulator's state: send it with Content-Type: application/json "
            "or an X-Requested-With header (which a cross-site form cannot send)" % (method, path))
