"""The handle ``configure()`` returns: flush, shut down, and reach the providers it built."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, List, Optional

from ai_core.envelopes.logs import TRACK_EVENT_LOGGER
from ai_core.role import Role

logger = logging.getLogger("ai_core")

STOP_TIMEOUT_S = 5.0


class Telemetry:
    """This process's telemetry pipeline. A disabled one accepts every call and does nothing."""

    def __init__(
        self,
        options: Any,
        enabled: bool,
        tracer_provider: Any = None,
        logger_provider: Any = None,
        meter_provider: Any = None,
        instrumentation_meter_provider: Any = None,
        log_handler: Optional[logging.Handler] = None,
        instrumented: Optional[List[Any]] = None,
        exclusion: Any = None,
        request_registry: Any = None,
        worker: Any = None,
        sender: Any = None,
        role: Optional[Role] = None,
        role_holders: Any = (),
    ) -> None:
        self.options = options
        self.enabled = enabled
        self.tracer_provider = tracer_provider
        self.logger_provider = logger_provider
        self.meter_provider = meter_provider
        # What stock instrumentations are given (the adapters' framework middlewares too).
        self.instrumentation_meter_provider = instrumentation_meter_provider or meter_provider
        self.log_handler = log_handler
        self.exclusion = exclusion
        self.request_registry = request_registry
        self.worker = worker
        self.sender = sender
        self.role = role
        """The process's role (:mod:`ai_core.role`): what every item says unless an app has its own."""
        self._role_holders = tuple(role_holders)  # the exporters, whose ``role`` each item reads
        self._instrumented = instrumented if instrumented is not None else []
        self._event_logger: Any = None
        self._shut_down = False
        self._lock = threading.Lock()

    @property
    def role_name(self) -> Optional[str]:
        """``ai.cloud.role`` of everything this process sends by default."""
        return self.role.name if self.role is not None else None

    def use_role_defaults(self, name: Optional[str] = None, instance: Optional[str] = None) -> Optional[Role]:
        """A process model's defaults for the role (README, "Celery": a worker's node name, a
        prefork child's pool index, beat's role), for what was only inferred; the
        ``role_name``/``role_instance`` options and the environment still win. What is
        exported from now on carries the role this returns."""
        role = self.role
        if role is None:
            return None
        new = role.with_defaults(name, instance)
        if new is not role:
            self.role = new
            for holder in self._role_holders:
                holder.role = new
        return new

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def event_logger(self) -> Any:
        """The OpenTelemetry logger custom events are emitted on (created on first use)."""
        if self._event_logger is None and self.logger_provider is not None:
            self._event_logger = self.logger_provider.get_logger(TRACK_EVENT_LOGGER)
        return self._event_logger

    def force_flush(self, timeout_s: float = 10) -> bool:
        """Send everything recorded so far (metrics included); True when done in time."""
        if not self.enabled or self._shut_down or self.worker is None:
            return True
        return self.worker.flush(timeout_s)

    def graceful_stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """The server is stopping: deliver what is queued (or put it in offline storage), then
        shut down, within ``timeout_s``.

        For the ASGI lifespan shutdown, gunicorn's ``worker_exit`` and SIGTERM: uvicorn
        re-raises SIGTERM after its own shutdown, so ``atexit`` never runs and whatever was
        still queued would be lost. Returns True when everything was sent in time; safe to
        call twice, and never raises (an error here must not change how the server stops).
        """
        if self._shut_down:
            return True
        deadline = time.monotonic() + max(timeout_s, 0.0)
        delivered = False
        try:
            delivered = bool(self.force_flush(timeout_s=max(timeout_s, 0.0)))
        except Exception:
            logger.debug("flush at stop failed", exc_info=True)
        try:
            # What the flush could not deliver in time goes to offline storage, within what is left.
            self.shutdown(timeout_s=max(deadline - time.monotonic(), 0.5))
        except Exception:
            logger.debug("shutdown at stop failed", exc_info=True)
        return delivered

    def abandon(self) -> None:
        """Send nothing more from this process, not even what is queued or the last metrics:
        for a process that is to stay quiet although a pipeline was set up in it (``celery
        beat`` loading the module that sets up the web app, README "Celery"). The log handler
        is removed and the exit hooks find the pipeline shut down. An export thread that
        already runs in this process (items were recorded before) is not stopped."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if self.enabled:
            self._remove_log_handler()

    def _remove_log_handler(self) -> None:
        if self.log_handler is None:
            return
        for lg in list(logging.Logger.manager.loggerDict.values()):
            if isinstance(lg, logging.Logger) and self.log_handler in lg.handlers:
                lg.removeHandler(self.log_handler)
        root = logging.getLogger()
        if self.log_handler in root.handlers:
            root.removeHandler(self.log_handler)

    def install_exit_hooks(self) -> None:
        """Flush at interpreter exit and on SIGTERM (see ai_core.lifecycle for why both)."""
        from ai_core.lifecycle import flush_on_exit

        flush_on_exit(self)

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and stop within ``timeout_s``; the instrumentations and log handler are removed
        again. What the endpoint has not taken by then goes to offline storage."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if not self.enabled:
            return
        if self.worker is not None:
            # Undelivered items go to offline storage now instead of waiting for retries.
            if self.sender is not None:
                self.sender.patient = False
            self.worker.shutdown(timeout_s=timeout_s)
        self._remove_log_handler()
        cancel = getattr(self._instrumented, "cancel", None)
        if cancel is not None:
            cancel()  # libraries imported from now on stay uninstrumented
        for instrumentor in list(self._instrumented):
            if getattr(instrumentor, "is_instrumented_by_opentelemetry", True) is False:
                continue  # the application (or a test) uninstrumented it already: no warning at exit
            try:
                instrumentor.uninstrument()
            except Exception:
                logger.debug("uninstrument failed", exc_info=True)
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception:
                logger.debug("provider shutdown failed", exc_info=True)
        if self.sender is not None:
            try:
                self.sender.close()  # the kept-alive connection to the endpoint
            except Exception:
                logger.debug("closing the sender failed", exc_info=True)
