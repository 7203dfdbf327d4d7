"""The handle ``configure()`` returns: flush, shut down, and reach the providers it built."""

from __future__ import annotations

import logging
import threading
from typing import Any, List, Optional

logger = logging.getLogger("ai_core")


class Telemetry:
    """This process's telemetry pipeline. A disabled one accepts every call and does nothing."""

    def __init__(
        self,
        options: Any,
        enabled: bool,
        tracer_provider: Any = None,
        logger_provider: Any = None,
        meter_provider: Any = None,
        log_handler: Optional[logging.Handler] = None,
        instrumented: Optional[List[Any]] = None,
        exclusion: Any = None,
        request_registry: Any = None,
    ) -> None:
        self.options = options
        self.enabled = enabled
        self.tracer_provider = tracer_provider
        self.logger_provider = logger_provider
        self.meter_provider = meter_provider
        self.log_handler = log_handler
        self.exclusion = exclusion
        self.request_registry = request_registry
        self._instrumented = instrumented or []
        self._event_logger: Any = None
        self._shut_down = False
        self._lock = threading.Lock()

    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def event_logger(self) -> Any:
        """The OpenTelemetry logger custom events are emitted on (created on first use)."""
        if self._event_logger is None and self.logger_provider is not None:
            self._event_logger = self.logger_provider.get_logger("ai_core.events")
        return self._event_logger

    def force_flush(self, timeout_s: float = 10) -> bool:
        """Send everything recorded so far; True when every signal flushed in time."""
        if not self.enabled or self._shut_down:
            return True
        millis = int(timeout_s * 1000)
        ok = True
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            try:
                ok = bool(provider.force_flush(millis)) and ok
            except Exception:
                logger.warning("Application Insights: flushing %s failed", type(provider).__name__, exc_info=True)
                ok = False
        return ok

    def shutdown(self) -> None:
        """Flush and stop; the instrumentations and log handler are removed again."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        if not self.enabled:
            return
        if self.log_handler is not None:
            for lg in logging.Logger.manager.loggerDict.values():
                if isinstance(lg, logging.Logger) and self.log_handler in lg.handlers:
                    lg.removeHandler(self.log_handler)
            root = logging.getLogger()
            if self.log_handler in root.handlers:
                root.removeHandler(self.log_handler)
        for instrumentor in self._instrumented:
            try:
                instrumentor.uninstrument()
            except Exception:
                logger.debug("uninstrument failed", exc_info=True)
        for provider in (self.tracer_provider, self.logger_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception:
                logger.debug("provider shutdown failed", exc_info=True)
