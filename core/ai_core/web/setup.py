"""Setup for a framework: an app's options in, the pipeline and this app's request rules out.

Each adapter reads options where its framework keeps them (Django's ``APPLICATION_INSIGHTS``
dict, Flask's ``APPLICATION_INSIGHTS_*`` config keys, FastAPI's middleware keywords),
translates them to the canonical names and says how to label a name the way the user wrote
it (``django_ai.options``, ``flask_ai.options``); it also names the app (the role default).
Everything else, validation, the pipeline, and the per-request rules (exclusion, client IP,
user, the app's role), is here once.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping, Optional

from ai_core.configure import configure_resolved
from ai_core.options import APP_OPTIONS, Options, resolve_options
from ai_core.role import environment_names_role
from ai_core.telemetry import STOP_TIMEOUT_S, Telemetry
from ai_core.web.annotation import annotate_request
from ai_core.web.browser import inject_loader, is_injectable, loader_snippet
from ai_core.web.client_ip import client_ip
from ai_core.exclusion import Exclusion
from ai_core.web.user import UserReader, UserResolver

# Options that belong to an app, not to the process: two Flask apps in one process may name
# their roles and exclusions differently and still share one pipeline.
PER_APP_OPTIONS = APP_OPTIONS



class AppRequestRules:
    """What an adapter keeps per app: the process's pipeline and this app's request rules.

    Adapters call these on the request path inside their own guard, once, at their boundary
    (:mod:`ai_core.web.guard`): the methods do not guard again, so a failure is counted and
    traced under the adapter's label. (A ``user_id`` reader is the user's code: its failures
    are caught and counted by :class:`ai_core.web.user.UserResolver` itself.)
    """

    def __init__(
        self,
        telemetry: Telemetry,
        options: Options,
        user: UserResolver,
        peer_rewritten: bool = False,
        app_role: Optional[str] = None,
    ) -> None:
        self.telemetry = telemetry
        self.options = options
        self.app_role = app_role
        """This app's role name when it is not the process's (:meth:`annotate` applies it)."""
        self._user = user
        self._peer_rewritten = peer_rewritten
        self._exclusion = Exclusion(options.excluded_urls, options.excluded_routes)
        cs = options.connection_string
        self._browser_snippet: Optional[bytes] = (
            loader_snippet(cs.instrumentation_key, cs.ingestion_endpoint)
            if options.browser_sdk_loader and cs is not None and options.enabled
            else None
        )

    @property
    def role_name(self) -> Optional[str]:
        """The role this app's requests are sent under: its own, else the process's."""
        return self.app_role or self.telemetry.role_name

    def annotate(
        self, span: Any, route: Optional[str] = None, client_ip: Optional[str] = None,
        auth_user_id: Optional[str] = None,
    ) -> None:
        """Write what the adapter learned about one of this app's requests onto its server span.

        The one place an app's role reaches its requests (README, "Where the role name comes
        from"): every call carries this app's role when it has its own, so the request and
        every item recorded inside it (dependencies, logs, exceptions) carry it, whichever
        adapter served it. See :func:`ai_core.web.annotation.annotate_request`.
        """
        annotate_request(span, route, client_ip, auth_user_id, self.app_role)

    def claim(self, span: Any) -> None:
        """A request another app's adapter started (this app is mounted in it) is this app's:
        the request and its items carry this app's role, even where it is the process's."""
        annotate_request(span, role_name=self.role_name)

    @property
    def enabled(self) -> bool:
        """False when telemetry is off (``enabled=False`` or no connection string)."""
        return bool(self.telemetry.enabled) and not self.telemetry.is_shut_down

    def excludes(self, path: Optional[str], route_names: Iterable[str] = ()) -> bool:
        """Whether this request sends nothing (``excluded_urls`` on the path, ``excluded_routes``
        on the names the app matched). Run an excluded request inside
        :func:`ai_core.web.excluded_request`."""
        return self._exclusion.excludes(path, route_names)

    def client_ip(
        self, peer: Optional[str], forwarded_for: Any = None, forwarded: Any = None,
        peer_rewritten: Optional[bool] = None,
    ) -> Optional[str]:
        """The client address by the ``trusted_proxies`` rule (see :mod:`ai_core.web.client_ip`).

        ``peer_rewritten`` is per request where only the request can tell (uvicorn rewrites
        the peer from ``X-Forwarded-For`` only for connections from its ``forwarded_allow_ips``);
        None takes what the adapter said for the whole app.
        """
        rewritten = self._peer_rewritten if peer_rewritten is None else peer_rewritten
        return client_ip(peer, forwarded_for, forwarded, self.options.trusted_proxies, rewritten)

    def user_id(self, request: Any) -> Optional[str]:
        """The authenticated user ID of ``request`` by the ``user_id`` option, or None."""
        return self._user(request)

    @property
    def injects_browser_sdk(self) -> bool:
        """Whether HTML pages get the JavaScript SDK loader (``browser_sdk_loader``)."""
        return self._browser_snippet is not None

    def page_with_browser_sdk(
        self, body: bytes, content_type: Optional[str], content_encoding: Optional[str] = None,
        streaming: bool = False,
    ) -> Optional[bytes]:
        """With ``browser_sdk_loader``: the HTML page with the JavaScript SDK loader in its
        ``<head>``; None when the response is to be sent unchanged (see :mod:`ai_core.web.browser`)."""
        snippet = self._browser_snippet
        if snippet is None or not is_injectable(content_type, content_encoding, streaming):
            return None
        return inject_loader(body, snippet)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """The server is stopping: flush, then shut down within ``timeout_s``; safe twice."""
        return bool(self.telemetry.graceful_stop(timeout_s))


def setup_web(
    options: Mapping[str, Any],
    label: Callable[[str], str] = str,
    source: str = "keyword arguments",
    role_default: Optional[str] = None,
    default_user_reader: Optional[UserReader] = None,
    peer_rewritten: bool = False,
) -> AppRequestRules:
    """Configure telemetry from an app's options and return this app's request rules.

    Args:
        options: canonical option names to values (the adapter translated its framework's
            spelling; ``None`` counts as not set).
        label: how the user wrote a canonical name, for messages: ``django_ai.options.label``
            gives ``APPLICATION_INSIGHTS['SAMPLING_RATIO']``; keywords are as written (``str``).
        source: where the options were read, for messages (``"settings"``, ``"the Flask app"``,
            ``"ApplicationInsightsMiddleware"``).
        role_default: the app's identity, the role name when neither ``role_name`` nor
            ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` gives one.
        default_user_reader: the framework's reader of the authenticated user's ID, used when
            ``user_id`` is True.
        peer_rewritten: the server already replaced the socket peer from ``X-Forwarded-For``
            (uvicorn's ``--proxy-headers``), so the peer is not a proxy hop.

    Raises:
        ConfigurationError: a bad option or connection string, naming the setting as written.
    """
    opts = resolve_options(dict(options), source=source, spelling=label)
    user = UserResolver(opts.user_id, default_user_reader, label("user_id"))
    defaults = {name: Options.__dataclass_fields__[name].default for name in PER_APP_OPTIONS}
    process = dataclasses.replace(opts, **defaults)
    # The first app configures the process (its role becomes the process's); later apps get
    # the same pipeline and carry their own role on their requests.
    telemetry = configure_resolved(process, role_default, role_name=opts.role_name)
    return AppRequestRules(telemetry, opts, user, peer_rewritten, _app_role(telemetry, opts.role_name, role_default))


def _app_role(telemetry: Telemetry, role_name: Optional[str], role_default: Optional[str]) -> Optional[str]:
    """The app's role when it differs from the process's; the environment
    (``OTEL_SERVICE_NAME``) still beats an app's inferred identity, never an explicit name."""
    own = role_name or (None if environment_names_role() else role_default)
    process_role = telemetry.role_name
    return own if own and process_role and own != process_role else None
