"""What Flask tells us about a request, written onto its span; connected with ``sender=app``.

- ``request_started`` (URL matched, before any ``before_request`` function): the route name
  and the client IP, so dependencies and logs of the view carry them.
- the response is ready (an ``after_this_request`` function that ``request_started`` adds, so
  it runs before the app's ``after_request`` functions and before the session is saved): the
  user, read after the app's own authentication ran, where Flask-Login's loaders may run
  (``flask_ai.user``).
- ``request_finished`` (the response is final): with ``browser_sdk_loader``, the JavaScript
  SDK loader in HTML pages.
- ``got_request_exception`` (an exception no error handler took; Flask answers 500): one
  exception item on a failed request. ``abort(404)`` and other HTTP errors are answers, and
  Flask sends no signal for them.

Blinker lets an exception of a receiver propagate into Flask, which would turn the request
into a 500: every receiver body is guarded.
"""

from __future__ import annotations

from typing import Any, Optional

from flask import got_request_exception, request_finished, request_started
from opentelemetry import trace

from ai_core.web.annotation import ROUTE, STATUS_CODE_KEYS, record_uncaught_exception
from ai_core.web.guard import guarded
from ai_core.web.setup import AppRequestRules
from flask_ai.logs import RECORDED_EXCEPTION
from flask_ai.routes import request_route
from flask_ai.user import may_have_user


class RequestSignals:
    """The three receivers for one app, bound to that app's request rules."""

    def __init__(self, web: AppRequestRules) -> None:
        self._web = web

    def connect(self, app: Any) -> None:
        request_started.connect(self.started, app, weak=False)
        if self._web.injects_browser_sdk:  # the only use of the final response: not sent otherwise
            request_finished.connect(self.finished, app, weak=False)
        got_request_exception.connect(self.failed, app, weak=False)

    def started(self, sender: Any, **extra: Any) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        with guarded("reading the Flask request"):
            from flask import after_this_request, request

            self._web.annotate(span, route=request_route(request), client_ip=self._client_ip(request.environ))
            if self._web.options.user_id:  # user_id False: no reader to run
                after_this_request(self.answered)

    def answered(self, response: Any) -> Any:
        """The view has answered and the session is not saved yet: who made the request.
        Flask-Login's remember cookie, for one, signs the user in again by writing into the
        session, and refreshes its cookie in an ``after_request`` function of its own."""
        span = trace.get_current_span()
        if span.is_recording():
            with guarded("reading the Flask user"):
                from flask import request

                rule = self._web.options.user_id
                if not rule or (rule is True and not may_have_user()):
                    return response  # nobody to read: no resolver, no suppressed context
                self._web.annotate(span, auth_user_id=self._web.user_id(request._get_current_object()))
        return response

    def finished(self, sender: Any, response: Any = None, **extra: Any) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        if response is not None and self._web.injects_browser_sdk:
            with guarded("adding the browser SDK loader"):
                _add_browser_sdk(self._web, response)

    def failed(self, sender: Any, exception: Optional[BaseException] = None, **extra: Any) -> None:
        span = trace.get_current_span()
        if exception is None or not span.is_recording():
            return
        with guarded("recording the uncaught exception"):
            from flask import request

            if not (span.attributes or {}).get(ROUTE):  # it failed before request_started
                self._web.annotate(span, route=request_route(request))
            if _propagates(sender):
                # Flask re-raises it (debug mode, testing): the WSGI middleware records it as it
                # passes, and no response is written, so only the 500 is ours to add.
                _answered_500(span)
            else:
                record_uncaught_exception(span, exception)
                request.environ[RECORDED_EXCEPTION] = exception  # its log line: flask_ai.logs

    def _client_ip(self, environ: Any) -> Optional[str]:
        """Read once Flask has the request, so a Werkzeug ``ProxyFix`` wrapped inside or around
        us has run: with ``trusted_proxies`` 0 the client is the address ProxyFix gave the app;
        with a ``trusted_proxies`` rule the header is read from the right as ProxyFix left it
        (unchanged), so the same proxy is never counted twice."""
        return self._web.client_ip(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"),
                                   environ.get("HTTP_FORWARDED"))


def _propagates(app: Any) -> bool:
    """Flask's own rule (``Flask.handle_exception``) for re-raising an uncaught exception."""
    propagate = app.config.get("PROPAGATE_EXCEPTIONS")
    return bool(app.testing or app.debug) if propagate is None else bool(propagate)


def _answered_500(span: Any) -> None:
    attributes = span.attributes or {}
    if not any(attributes.get(key) for key in STATUS_CODE_KEYS):
        for key in STATUS_CODE_KEYS:  # both spellings, as record_uncaught_exception writes them
            span.set_attribute(key, 500)


def _add_browser_sdk(web: AppRequestRules, response: Any) -> None:
    if not response.is_sequence or response.direct_passthrough:
        return  # streamed or a file: sent as it is
    page = web.page_with_browser_sdk(
        response.get_data(), response.headers.get("Content-Type"), response.headers.get("Content-Encoding")
    )
    if page is not None:
        response.set_data(page)  # also sets Content-Length
