"""Where Live Metrics goes: the live endpoint a connection string implies, and which redirects
the service may send us to (README, "Live Metrics").

Rules:

* ``LiveEndpoint`` in the connection string is used as given; ``EndpointSuffix`` derives it
  (``https://[<Location>.]live.<suffix>``) as the official parser does.
* Without either, an Azure connection string (no ``IngestionEndpoint``, or one on an Azure
  Monitor host) gets the official default, ``https://rt.services.visualstudio.com``.
* Anything else implies no live endpoint: a loopback ``IngestionEndpoint`` (the emulator, tests)
  or a non-Azure one (a proxy, a collector) pings nobody. Telemetry never goes to a host the
  connection string does not name or imply.
* The service may move us with ``x-ms-qps-service-endpoint-redirect-v2``: only to an https
  Azure Monitor host; when the configured ``LiveEndpoint`` is loopback (the emulator), only
  to loopback.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Tuple
from urllib.parse import urlsplit

from ai_core.connection_string import DEFAULT_INGESTION_ENDPOINT, DEFAULT_LIVE_ENDPOINT, ConnectionString

__all__ = ["LiveTarget", "live_target", "redirect_allowed", "is_loopback_url", "is_azure_monitor_host"]

# Host name suffixes of Azure Monitor's public and sovereign clouds (ingestion and live).
AZURE_MONITOR_SUFFIXES: Tuple[str, ...] = (
    ".monitor.azure.com",
    ".monitor.azure.us",
    ".monitor.azure.cn",
    ".services.visualstudio.com",
    ".applicationinsights.azure.com",
    ".applicationinsights.azure.us",
    ".applicationinsights.azure.cn",
    ".applicationinsights.us",
)


@dataclass(frozen=True)
class LiveTarget:
    """The live endpoint to use (``url``), or None with ``reason`` saying why there is none."""

    url: Optional[str]
    reason: str


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def is_loopback_url(url: str) -> bool:
    """True for ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    host = _host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_azure_monitor_host(url: str) -> bool:
    host = _host(url)
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in AZURE_MONITOR_SUFFIXES)


def live_target(cs: ConnectionString) -> LiveTarget:
    """The live endpoint ``cs`` implies (see the module docstring), without a trailing ``/``."""
    live = cs.live_endpoint.rstrip("/")
    if cs.live_endpoint != DEFAULT_LIVE_ENDPOINT:
        return LiveTarget(live, "LiveEndpoint (or EndpointSuffix) in the connection string")
    ingestion = cs.ingestion_endpoint
    if ingestion == DEFAULT_INGESTION_ENDPOINT or is_azure_monitor_host(ingestion):
        return LiveTarget(live, "the Azure default for this connection string (it names no LiveEndpoint)")
    if is_loopback_url(ingestion):
        return LiveTarget(None, "the connection string's only endpoint is a loopback IngestionEndpoint "
                                "and it names no LiveEndpoint")
    return LiveTarget(None, "the IngestionEndpoint is not an Azure Monitor host and the connection "
                            "string names no LiveEndpoint")


def redirect_allowed(configured: str, location: str) -> Tuple[bool, str]:
    """May the service move us from the ``configured`` live endpoint to ``location``?"""
    try:
        parts = urlsplit(location.strip())
        parts.port  # raises ValueError on a bad port
    except ValueError:
        return False, "not a URL"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return False, "not an http(s) URL with a host"
    if is_loopback_url(configured):
        if is_loopback_url(location):
            return True, ""
        return False, "the configured LiveEndpoint is loopback, so only a loopback redirect is followed"
    if scheme != "https":
        return False, "only https redirects are followed"
    if not is_azure_monitor_host(location):
        return False, "only redirects to Azure Monitor hosts are followed"
    return True, ""
