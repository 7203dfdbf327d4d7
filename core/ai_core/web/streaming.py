"""A request that streams its body ends when the last byte is sent, not when the view returns.

The stock Django and Flask instrumentations end the request span as soon as the framework
hands back the response object, before a streamed body (``StreamingHttpResponse``,
``FileResponse``, a Flask generator) is sent, so the request's duration leaves the streaming
out (README, "Deliberate differences" 7). :func:`defer_end` lets the stock code call
``end()`` as usual while the real end waits for the adapter's "body done" signal.
"""

from __future__ import annotations

import threading
from typing import Any, Callable


def defer_end(span: Any) -> Callable[[], None]:
    """Make ``span.end()`` a no-op until the returned ``finish()`` is called.

    ``finish()`` ends the span (once, whoever calls it first); the adapter calls it when the
    server closes the response. A span that is not recording is left alone (its ``finish`` does
    nothing), so sampled-out and excluded requests cost nothing.
    """
    if span is None or not span.is_recording():
        return _nothing
    real_end = span.end
    lock = threading.Lock()
    done = [False]

    def deferred_end(end_time: Any = None) -> None:
        return None  # the stock instrumentation's end: wait for the body

    def finish() -> None:
        with lock:
            if done[0]:
                return
            done[0] = True
        try:
            del span.end  # back to the class's method
        except AttributeError:
            pass
        real_end()

    span.end = deferred_end  # on this span object only; the SDK's class is untouched
    return finish


def _nothing() -> None:
    return None
