"""Entra ID (AAD) bearer tokens for the ingestion endpoint, from an azure-identity-style credential.

Any object with ``get_token(*scopes)`` returning something with ``.token`` and ``.expires_on``
(epoch seconds) will do: ``azure.identity`` credentials, or a tiny fake in tests. We never import
azure-identity ourselves.

The token is a secret: it is never logged, never put in an error text, and it is only ever sent
over https (the transport refuses plain http when a provider is set).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

DEFAULT_SCOPE = "https://monitor.azure.com/.default"
# Fetch a new token this long before the current one expires, so a request never goes out with
# a token that expires on the way.
REFRESH_MARGIN_S = 300.0

_now = time.time  # module-level so tests can move the clock


class TokenError(Exception):
    """The credential could not give a token; the text never contains a token."""


def scope_for(aad_audience: Optional[str]) -> str:
    """The scope to ask the credential for.

    ``AADAudience=<uri>`` in the connection string gives ``<uri>/.default``; without it the Azure
    Monitor audience is used. The official exporter asks for ``https://monitor.azure.com//.default``
    (a double slash, because it appends ``/.default`` to an audience ending in ``/``); Entra ID
    happens to accept that, but we build the canonical single-slash scope instead, and strip any
    trailing slashes from a configured audience for the same reason.
    """
    audience = (aad_audience or "").strip().rstrip("/")
    if not audience:
        return DEFAULT_SCOPE
    return audience + "/.default"


class BearerTokenProvider:
    """Caches a credential's token until ``REFRESH_MARGIN_S`` before it expires; thread-safe.

    ``token()`` returns the raw token string (the transport adds ``Bearer``); it raises
    ``TokenError`` when the credential fails, with the credential's message but never a token.
    """

    def __init__(self, credential: Any, aad_audience: Optional[str] = None) -> None:
        if credential is None or not callable(getattr(credential, "get_token", None)):
            raise ValueError("credential must be a token credential with a get_token(scope) method")
        self._credential = credential
        self.scope = scope_for(aad_audience)
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._refresh_at = 0.0

    def token(self) -> str:
        with self._lock:  # held while fetching: concurrent callers wait for one fetch
            if self._token is not None and _now() < self._refresh_at:
                return self._token
            try:
                access = self._credential.get_token(self.scope)
                value = getattr(access, "token", None)
                expires_on = float(getattr(access, "expires_on", 0) or 0)
            except Exception as exc:  # whatever the credential raises, we report and carry on
                text = "%s: %s" % (type(exc).__name__, _short(exc))
                raise TokenError("credential.get_token failed: " + text) from None
            if not isinstance(value, str) or not value:
                raise TokenError("credential.get_token returned no token")
            if not _header_safe(value):
                raise TokenError("credential.get_token returned an invalid header value")
            self._token = value
            self._refresh_at = expires_on - REFRESH_MARGIN_S
            return value

    def invalidate(self) -> None:
        """Forget the cached token (after a 401): the next ``token()`` asks the credential again."""
        with self._lock:
            self._token = None
            self._refresh_at = 0.0

    def __repr__(self) -> str:  # never shows the token
        return "BearerTokenProvider(scope=%r)" % self.scope


def _header_safe(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not any(c in value for c in "\r\n\0")


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("\r", " ").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
