"""The Application Insights JavaScript SDK for server-rendered pages (``browser_sdk_loader``).

With the option on, HTML pages get a small loader before ``</head>`` that fetches the
browser SDK asynchronously (never blocking the page) and sends page views, browser
exceptions and AJAX calls to the same resource as the server. Only whole HTML documents are
changed: not JSON, not streamed bodies, not compressed ones, not pages that already load the
SDK themselves.
"""

from __future__ import annotations

import json
from typing import Optional

SDK_URL = "https://js.monitor.azure.com/scripts/b/ai.3.gbl.min.js"
MARKER = b"data-ai-loader"
# What pages that already load the SDK themselves contain (the official loader snippet or the npm package).
_ALREADY = (MARKER, b"ai.3.gbl.min.js", b"ai.2.gbl.min.js", b"Microsoft.ApplicationInsights", b"appInsightsSDK")

_TEMPLATE = (
    '<script data-ai-loader>(function(d,c){{var s=d.createElement("script");s.async=true;'
    's.crossOrigin="anonymous";s.src={url};s.onload=function(){{try{{var a=new Microsoft.'
    'ApplicationInsights.ApplicationInsights({{config:{{connectionString:c}}}});'
    'window.appInsights=a.loadAppInsights();window.appInsights.trackPageView();}}catch(e){{}}}};'
    'd.head.appendChild(s);}})(document,{cs});</script>'
)


def loader_snippet(instrumentation_key: str, ingestion_endpoint: str) -> bytes:
    """The ``<script>`` element; values are JSON-escaped so no text can end the script early."""
    cs = "InstrumentationKey=%s;IngestionEndpoint=%s" % (instrumentation_key, ingestion_endpoint)
    return _TEMPLATE.format(url=_js(SDK_URL), cs=_js(cs)).encode("ascii")


def inject_loader(html: bytes, snippet: bytes) -> Optional[bytes]:
    """``html`` with ``snippet`` just before ``</head>``, or None to leave the page as it is
    (no ``</head>``, or the page already loads the SDK)."""
    lowered = html.lower()
    cut = lowered.find(b"</head>")
    if cut < 0 or any(marker.lower() in lowered for marker in _ALREADY):
        return None
    return html[:cut] + snippet + html[cut:]


def is_injectable(content_type: Optional[str], content_encoding: Optional[str], streaming: bool) -> bool:
    """Whole, uncompressed HTML documents only."""
    if streaming or content_encoding:
        return False
    return (content_type or "").split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _js(text: str) -> str:
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
