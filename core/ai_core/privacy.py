"""What may be recorded: one place for the privacy decisions every signal shares.

URLs lose their ``user:password@`` part and the values of query parameters that commonly
carry secrets (signed-URL signatures, tokens, API keys, OAuth codes). Header values are never
recorded: the span mapping excludes every ``http.*`` attribute from custom properties, so
``Authorization``, ``Cookie`` and ``Set-Cookie`` captured by an instrumentation cannot leak.
"""

from __future__ import annotations

from typing import FrozenSet
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

REDACTED = "REDACTED"

# Lower-case names; matched case-insensitively.
SECRET_QUERY_PARAMETERS: FrozenSet[str] = frozenset(
    {
        "sig", "signature", "x-amz-signature", "x-goog-signature", "awsaccesskeyid",
        "x-amz-credential", "x-amz-security-token", "token", "access_token", "refresh_token",
        "id_token", "api_key", "apikey", "api-key", "key", "code", "client_secret", "password",
        "passwd", "pwd", "secret", "auth", "session", "sessionid",
    }
)


def safe_url(url: str) -> str:
    """``url`` without credentials and with secret query values replaced by ``REDACTED``.

    Fast path first: most URLs have neither ``@`` nor a query, and this runs per span.
    """
    if not url or ("@" not in url and "?" not in url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        query = _redact_query(query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_PARAMETERS for name, _ in pairs):
        return query
    return "&".join(
        "%s=%s" % (quote(name, safe=""), REDACTED if name.lower() in SECRET_QUERY_PARAMETERS else quote(value, safe=""))
        for name, value in pairs
    )
