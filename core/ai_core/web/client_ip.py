"""The request's client IP by the ``trusted_proxies`` rule, so a client cannot spoof it.

A client can send ``X-Forwarded-For`` or ``Forwarded`` itself, so only the entries our own
proxies appended are believed, and those are at the right end. The hops, oldest first, are
the header's entries left to right, then the socket peer (the nearest hop).
``X-Forwarded-For`` is read when present, since most proxies set it; the RFC 7239
``Forwarded`` header (its ``for=`` values) only when there is no ``X-Forwarded-For``. So a
proxy that writes only ``Forwarded`` must drop a client's ``X-Forwarded-For``, or the client
chooses the header that is read.

- ``0``: the peer; the headers are ignored.
- ``N`` (an int): the last N hops are our proxies, so the client is the header's entry
  ``[-N]``. If that entry is not an address (``unknown``, an obfuscated ``_hidden``,
  garbage), the nearest address to its right is used: a proxy we trust wrote it. Then the peer.
  A header with fewer than N entries was written entirely by our proxies: its leftmost
  address. Nothing left of ``[-N]`` is ever read, since the client wrote that part.
- Networks (CIDRs): the headers count only when the peer is inside a trusted network (an
  outside peer wrote them itself). The header is walked from the right past addresses inside
  trusted networks; the first address outside them is the client. A non-address met first
  ends the walk at the last trusted hop passed (the proxy that could not say who called it),
  else the peer. A header of trusted addresses only gives its leftmost one. A peer that is
  not an address (a Unix socket) is not trusted: behind a socket, count the hops instead.
- ``peer_rewritten``: the server already replaced the peer from the header (uvicorn's
  ``--proxy-headers``, Werkzeug's ``ProxyFix``), so the peer is not a proxy hop. With N the
  answer is the same entry ``[-N]`` (those servers leave the header as it was), the peer last;
  with networks the server has checked the socket peer already, so the walk starts at once.

Parsing: entries may carry ports, brackets, spaces and upper-case hex; ``Forwarded``
elements are ``;``-separated pairs with case-insensitive keys and optionally quoted values,
and an element without exactly one ``for=`` is a hop whose address is unknown. Empty list
elements (``a,, b``, a trailing ``,``, blanks only) are no hops: RFC 7230 section 7 says a
recipient ignores them, and a header of nothing else counts as absent. Both
headers are split at every comma, even inside quotes: a quote a client leaves open must not
swallow the entries our proxies append after it. Only the rightmost 8 KiB and 64 hops are
read, cut from the left, where the client's part is. IPv6 zone ids (``fe80::1%eth0``) are
stripped, and IPv4-mapped IPv6 addresses are given as IPv4.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Iterable, Optional, Sequence, Tuple, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

MAX_HEADER_CHARS = 8 * 1024
MAX_HOPS = 64
# A port, or an obfuscated one (RFC 7239 section 6.3: "_" then letters, digits, ".", "_", "-").
_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+", re.ASCII)


def client_ip(
    peer: str | None,
    forwarded_for: str | Sequence[str] | None = None,
    forwarded: str | Sequence[str] | None = None,
    trusted_proxies: int | Sequence[IPNetwork | str] = 0,
    peer_rewritten: bool = False,
) -> str | None:
    """The client's address (``"203.0.113.7"``, no port or brackets), or None when nothing
    trustworthy is known. Never raises: adapters call it on every request.

    Args:
        peer: the socket peer as the server gives it (``"10.0.0.1:5678"``, ``"[::1]:80"``).
        forwarded_for: the ``X-Forwarded-For`` value, or its header lines in order.
        forwarded: the ``Forwarded`` value, or its header lines in order.
        trusted_proxies: the option as :mod:`ai_core.options` resolves it: 0, a hop count,
            or networks (CIDR strings are accepted too; ones that do not parse are skipped).
        peer_rewritten: the server already replaced ``peer`` from the header.
    """
    try:
        if not forwarded_for and not forwarded:  # no proxy headers: the peer, whatever the rule
            return _peer_text(peer) if isinstance(peer, str) else None
        found = _resolve(_address(peer), _hops(forwarded_for, forwarded), _trust(trusted_proxies), peer_rewritten)
    except Exception:  # an input nobody foresaw costs this request its IP, never the request
        return None
    return None if found is None else str(found)


def _resolve(
    peer: Optional[IPAddress], hops: list[Optional[IPAddress]], trust: int | Tuple[IPNetwork, ...], rewritten: bool
) -> Optional[IPAddress]:
    """The hop the ``trusted_proxies`` rule picks, else the peer."""
    if isinstance(trust, int):
        found = _by_count(hops, trust) if trust else None
    elif rewritten or _inside(peer, trust):
        found = _by_networks(hops, trust)
    else:
        found = None
    return peer if found is None else found


def _by_count(hops: list[Optional[IPAddress]], count: int) -> Optional[IPAddress]:
    """The first address from entry ``[-count]`` rightwards (all entries if there are fewer)."""
    return next((hop for hop in hops[-count:] if hop is not None), None)


def _by_networks(hops: list[Optional[IPAddress]], networks: Tuple[IPNetwork, ...]) -> Optional[IPAddress]:
    """The rightmost address outside ``networks``, unless a non-address comes first."""
    last_trusted: Optional[IPAddress] = None
    for hop in reversed(hops):
        if hop is None:
            return last_trusted  # the trusted proxy that wrote this could not name its client
        if not _inside(hop, networks):
            return hop
        last_trusted = hop
    return last_trusted


def _inside(address: Optional[IPAddress], networks: Tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


# --- trusted_proxies ------------------------------------------------------------------------


def _trust(value: object) -> int | Tuple[IPNetwork, ...]:
    """A hop count or a tuple of networks; anything unusable trusts nothing (0)."""
    if isinstance(value, bool):
        return 0  # not a count: the option's validation rejects it, a direct caller gets the safe reading
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, (str, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        value = (value,)
    if not isinstance(value, Iterable):
        return 0
    return tuple(network for network in map(_network, value) if network is not None)


def _network(item: object) -> Optional[IPNetwork]:
    if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return item
    if not isinstance(item, (str, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return None
    try:
        return ipaddress.ip_network(str(item).strip(), strict=False)
    except ValueError:
        return None


# --- the headers ----------------------------------------------------------------------------


def _hops(forwarded_for: object, forwarded: object) -> list[Optional[IPAddress]]:
    """The header's hops, oldest first: ``X-Forwarded-For`` if present, else ``Forwarded``."""
    entries = _rightmost_entries(_header_text(forwarded_for))
    if entries:
        return [_address(entry) for entry in entries]
    return [_address(_for_value(element)) for element in _rightmost_entries(_header_text(forwarded))]


def _header_text(value: object) -> str:
    """One header value from a value or its lines (joined with ``,``, as RFC 9110 allows)."""
    if value is None:
        return ""
    lines = (value,) if isinstance(value, (str, bytes)) else value
    if not isinstance(lines, Iterable):
        return ""
    return ",".join(_line_text(line) for line in lines if isinstance(line, (str, bytes)))


def _line_text(line: str | bytes) -> str:
    return line.decode("latin-1") if isinstance(line, bytes) else line  # HTTP's header charset


def _rightmost_entries(text: str) -> list[str]:
    """The non-empty comma-separated entries of the header's right end (where our proxies
    write); empty elements are dropped before the last ``MAX_HOPS`` are taken."""
    if len(text) > MAX_HEADER_CHARS:
        # The cut splits an entry in two; its right half ("1.2.3.4" of "201.2.3.4") was never
        # written by anyone, so it is dropped.
        text = text[-MAX_HEADER_CHARS:].partition(",")[2]
    return [entry for entry in text.split(",") if entry.strip()][-MAX_HOPS:]


def _for_value(element: str) -> str:
    """The ``for=`` value of one ``Forwarded`` element, or "" if it has none or several."""
    pairs = (pair.partition("=") for pair in element.split(";"))
    values = [value for key, eq, value in pairs if eq and key.strip().lower() == "for"]
    if len(values) != 1:
        return ""
    value = values[0].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


# --- one address ------------------------------------------------------------------------------


def _address(text: object) -> Optional[IPAddress]:
    """The address in a peer or header entry (port, brackets, zone id removed), or None."""
    if not isinstance(text, str):
        return None
    return _parsed_address(text)


@functools.lru_cache(maxsize=4096)
def _parsed_address(text: str) -> Optional[IPAddress]:
    # Cached: every request parses its peer, and the same few addresses (the proxy, the load
    # balancer, returning clients) come again and again. Entries are small and bounded.
    host = _host(text.strip())
    if host is None:
        return None
    if ":" in host:
        host = host.partition("%")[0]  # an IPv6 zone names the server's interface, not the client
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=4096)
def _peer_text(text: str) -> Optional[str]:
    # The answer for most requests (no proxy in front), cached with its text form.
    found = _parsed_address(text)
    return None if found is None else str(found)


def _host(text: str) -> Optional[str]:
    """``text`` without its port: ``[v6]:port``, ``[v6]``, ``v4:port``; a bare IPv6 as is."""
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not (rest[0] == ":" and _PORT.fullmatch(rest[1:]))):
            return None
        return host
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host if _PORT.fullmatch(port) else None
    return text  # no colon, or an IPv6 address (whose port, if any, cannot be told apart)
