"""Parsing the Application Insights connection string into where and as whom to send telemetry.

Keys, defaults and precedence are the official exporter's (as measured; tests/support/golden/cs_tests.out), with
two kinds of deliberate difference:

* Tolerant where the official parser is needlessly strict: a trailing ``;``, empty segments,
  spaces around keys and values, ``=`` inside a value, an upper-case or braced key GUID
  (normalised to lower-case canonical form), a trailing ``/`` on the endpoint (stripped, so the
  track URL is never ``//v2.1/track``).
* Precise where it is vague: every rejection is a ``ConfigurationError`` naming the part that
  is wrong. Messages never contain the instrumentation key or any other value of the string
  (a connection string is a secret and error messages end up in logs).
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ai_core.errors import ConfigurationError

__all__ = [
    "DEFAULT_INGESTION_ENDPOINT",
    "DEFAULT_LIVE_ENDPOINT",
    "ENV_CONNECTION_STRING",
    "ENV_INSTRUMENTATION_KEY",
    "ConnectionString",
    "mask_instrumentation_key",
]

ENV_CONNECTION_STRING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
# The pre-connection-string variable; the official exporter still honours it as a last resort.
ENV_INSTRUMENTATION_KEY = "APPINSIGHTS_INSTRUMENTATIONKEY"

DEFAULT_INGESTION_ENDPOINT = "https://dc.services.visualstudio.com"
DEFAULT_LIVE_ENDPOINT = "https://rt.services.visualstudio.com"

_GUID = re.compile(
    r"^(\{)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?(1)\})$", re.IGNORECASE
)
# The official region rule, used only to tell the region of a regional ingestion endpoint.
_REGION = re.compile(r"https://([a-z0-9]+)(?:-\d+)?\.in\.applicationinsights\.azure\.com")
# Host names as people really write them (docker-compose names contain "_"); IPv6 is checked apart.
_HOST = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$")

_SOURCE_TEXT = "the connection string"
_SOURCE_ENV = ENV_CONNECTION_STRING
_SOURCE_ENV_IKEY = ENV_INSTRUMENTATION_KEY

# (value, where it came from): the source is named in errors, the value never is.
_Sourced = Tuple[str, str]


@dataclass(frozen=True, repr=False)
class ConnectionString:
    """A validated connection string. Build it with ``parse`` or ``resolve``, not directly.

    ``ingestion_endpoint`` never ends with ``/``; ``instrumentation_key`` is a lower-case GUID.
    """

    instrumentation_key: str
    ingestion_endpoint: str = DEFAULT_INGESTION_ENDPOINT
    live_endpoint: str = DEFAULT_LIVE_ENDPOINT
    aad_audience: Optional[str] = None
    application_id: Optional[str] = None
    region: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> "ConnectionString":
        """Parse one connection string (no environment fallback); ``ConfigurationError`` if unusable."""
        if not isinstance(text, str):
            raise ConfigurationError(
                f"connection_string must be a str like 'InstrumentationKey=<GUID>;IngestionEndpoint=https://...', "
                f"got {type(text).__name__}"
            )
        if not text.strip():
            raise ConfigurationError(
                "the connection string is empty: copy it from the Application Insights resource's Overview page"
            )
        return _build([_fields(_pairs(text, _SOURCE_TEXT), _SOURCE_TEXT)])

    @classmethod
    def resolve(
        cls, text: Optional[str] = None, environ: Mapping[str, str] = os.environ
    ) -> Optional["ConnectionString"]:
        """The effective connection string: ``text``, then the environment, merged per key.

        Precedence is the official one: each of the key, endpoints, AAD audience and
        application id comes from ``text`` if it has it, else from ``APPLICATIONINSIGHTS_CONNECTION_STRING``;
        the key finally from ``APPINSIGHTS_INSTRUMENTATIONKEY``. Returns ``None`` when none of
        them is set (or all are blank), so the caller can switch telemetry off with one warning.
        """
        if text is not None and not isinstance(text, str):
            cls.parse(text)  # raises the type error
        sources: List[Dict[str, _Sourced]] = []
        if text is not None and text.strip():
            sources.append(_fields(_pairs(text, _SOURCE_TEXT), _SOURCE_TEXT))
        env_text = environ.get(ENV_CONNECTION_STRING, "")
        if env_text.strip():
            sources.append(_fields(_pairs(env_text, _SOURCE_ENV), _SOURCE_ENV))
        env_ikey = environ.get(ENV_INSTRUMENTATION_KEY, "").strip()
        if env_ikey:
            sources.append({"instrumentation_key": (env_ikey, _SOURCE_ENV_IKEY)})
        if not sources:
            return None
        return _build(sources)

    @property
    def track_url(self) -> str:
        """Where batches are posted: ``<IngestionEndpoint>/v2.1/track``."""
        return f"{self.ingestion_endpoint}/v2.1/track"

    def __repr__(self) -> str:
        return (
            f"ConnectionString(instrumentation_key={mask_instrumentation_key(self.instrumentation_key)!r}, "
            f"ingestion_endpoint={self.ingestion_endpoint!r}, live_endpoint={self.live_endpoint!r}, "
            f"aad_audience={self.aad_audience!r}, application_id={self.application_id!r}, region={self.region!r})"
        )


def mask_instrumentation_key(key: str) -> str:
    """All but the last 4 characters hidden: enough to tell two resources apart in a log."""
    return re.sub(r"[0-9a-f]", "*", key[:-4]) + key[-4:]


def _pairs(text: str, source: str) -> Dict[str, str]:
    """``Key=Value;...`` as a dict with lower-case keys; blank values count as absent."""
    pairs: Dict[str, str] = {}
    for position, segment in enumerate(text.split(";"), start=1):
        if not segment.strip():
            continue  # a trailing ';' or ';;' is harmless
        key, sep, value = segment.partition("=")  # the first '=' only: values may contain '='
        key = key.strip().lower()
        if not sep or not key:
            raise ConfigurationError(
                f"{source} is malformed: part {position} is not Key=Value "
                "(expected 'InstrumentationKey=<GUID>;IngestionEndpoint=https://...;...')"
            )
        value = value.strip()
        if value:
            pairs[key] = value  # a duplicate key: the last one wins, as in the official parser
        else:
            pairs.pop(key, None)
    authorization = pairs.get("authorization")
    if authorization is not None and authorization.lower() != "ikey":
        raise ConfigurationError(
            f"{source} has an unsupported Authorization: only 'ikey' is accepted; for Microsoft Entra ID "
            "authentication remove Authorization and pass an azure-identity credential as the "
            "'credential' option"
        )
    return pairs


def _fields(pairs: Mapping[str, str], source: str) -> Dict[str, _Sourced]:
    """The settings one source gives, each tagged with the source (before validation)."""
    fields: Dict[str, _Sourced] = {}
    suffix = pairs.get("endpointsuffix", "").strip(". /")
    location = pairs.get("location", "").strip(". ")
    prefix = f"{location}." if location else ""  # Location means nothing without EndpointSuffix
    if "instrumentationkey" in pairs:
        fields["instrumentation_key"] = (pairs["instrumentationkey"], source)
    if "ingestionendpoint" in pairs:
        fields["ingestion_endpoint"] = (pairs["ingestionendpoint"], f"IngestionEndpoint in {source}")
    elif suffix:
        fields["ingestion_endpoint"] = (f"https://{prefix}dc.{suffix}", f"EndpointSuffix in {source}")
    if "liveendpoint" in pairs:
        fields["live_endpoint"] = (pairs["liveendpoint"], f"LiveEndpoint in {source}")
    elif suffix:
        fields["live_endpoint"] = (f"https://{prefix}live.{suffix}", f"EndpointSuffix in {source}")
    if "aadaudience" in pairs:
        fields["aad_audience"] = (pairs["aadaudience"], source)
    if "applicationid" in pairs:
        fields["application_id"] = (pairs["applicationid"], source)
    return fields


def _build(sources: List[Dict[str, _Sourced]]) -> ConnectionString:
    """Merge per key (earlier sources win) and validate the result."""
    merged: Dict[str, _Sourced] = {}
    for fields in sources:
        for name, sourced in fields.items():
            merged.setdefault(name, sourced)

    if "instrumentation_key" not in merged:
        raise ConfigurationError(
            "the connection string has no InstrumentationKey: expected "
            "'InstrumentationKey=<GUID>;IngestionEndpoint=https://...' as shown on the Application "
            "Insights resource's Overview page"
        )
    ikey = _instrumentation_key(*merged["instrumentation_key"])
    endpoint = DEFAULT_INGESTION_ENDPOINT
    if "ingestion_endpoint" in merged:
        endpoint = _endpoint(*merged["ingestion_endpoint"]).rstrip("/")
    live = DEFAULT_LIVE_ENDPOINT
    if "live_endpoint" in merged:
        live = _endpoint(*merged["live_endpoint"])
    region_match = _REGION.match(endpoint)
    return ConnectionString(
        instrumentation_key=ikey,
        ingestion_endpoint=endpoint,
        live_endpoint=live,
        aad_audience=merged.get("aad_audience", (None, ""))[0],
        application_id=merged.get("application_id", (None, ""))[0],
        region=region_match.group(1) if region_match else None,
    )


def _instrumentation_key(value: str, source: str) -> str:
    match = _GUID.match(value)
    if match is None:
        where = "" if source == _SOURCE_ENV_IKEY else "InstrumentationKey in "
        raise ConfigurationError(
            f"{where}{source} is not a GUID: expected 32 hex digits as 8-4-4-4-12, like "
            "00000000-0000-0000-0000-000000000000"
        )
    return match.group(2).lower()


def _endpoint(value: str, source: str) -> str:
    """``value`` if it is an http(s) URL with a host and nothing after the path; else an error."""

    def bad(problem: str) -> ConfigurationError:
        return ConfigurationError(
            f"{source} is not a valid endpoint URL: {problem} (expected e.g. "
            "https://westeurope-5.in.applicationinsights.azure.com/)"
        )

    if any(ch.isspace() for ch in value):
        raise bad("it contains whitespace")
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced or invalid "[...]" IPv6 host
        raise bad("its host is not a valid host name or IPv6 address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise bad("it must start with http:// or https://")
    host = parts.hostname or ""
    if not host:
        raise bad("it has no host")
    if "@" in parts.netloc:
        raise bad("it must not contain user credentials")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise bad("it must not have a query string or fragment")
    try:
        parts.port
    except ValueError:
        raise bad("its port is not a number from 0 to 65535") from None
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise bad("its host is not a valid IPv6 address") from None
    elif not _HOST.match(host):
        raise bad("its host name contains characters not allowed in a host name")
    return value
