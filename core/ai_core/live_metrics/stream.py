"""One process's Live Metrics stream: its identity, its one timer thread, and each tick
(a ping, or a post with the second's metrics and documents).

The thread starts with the process's first span or log record (as the export thread does), so
a process that serves nothing pings nobody: the gunicorn ``--preload`` master never appears as
a server, while every worker streams on its own. A forked child forgets the parent's stream
(thread, connection, buffer, configuration) and starts its own, with a new stream id and an
instance name that carries its pid, on its own first item. ``shutdown()`` stops the thread.

Timing comes from ``ai_core.live_metrics.schedule``; ``tick()`` can be driven directly with a
fake clock, so the state machine is tested without waiting through its 20 s and 60 s windows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, set_value

from ai_core.forking import on_fork_in_child
from ai_core.live_metrics.collector import LiveCollector, ToEnvelopes
from ai_core.live_metrics.endpoint import redirect_allowed
from ai_core.live_metrics.filters import LiveConfiguration, parse_configuration
from ai_core.live_metrics.process_metrics import process_points
from ai_core.live_metrics.protocol import (
    INVARIANT_VERSION,
    Identity,
    LiveAnswer,
    LiveClient,
    machine_name,
    new_stream_id,
    utc_now_iso,
)
from ai_core.live_metrics.schedule import LiveSchedule
from ai_core.process_usage import UsageMeter
from ai_core.version import __version__

logger = logging.getLogger("ai_core")

SDK_VERSION = "appinsights-otel:%s" % __version__


class LiveStream:
    """Live Metrics for this process. ``collecting`` and ``idle`` are what the hooks read."""

    def __init__(
        self,
        endpoint: str,
        ikey: str,
        role_name: str,
        role_instance: str,
        token_provider: Any = None,
        request_lookup: Any = None,
        trace_sample_rate: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        usage: Optional[UsageMeter] = None,
        span_envelopes: Optional[ToEnvelopes] = None,
        log_envelopes: Optional[ToEnvelopes] = None,
        ssl_context: Any = None,
    ) -> None:
        self._ssl_context = ssl_context
        self.configured_endpoint = endpoint.rstrip("/")
        self._ikey = ikey
        self._role_name = role_name
        self._role_instance = role_instance
        self._token_provider = token_provider
        self._clock = clock
        self._wall = wall_clock
        self.collecting = False  # someone watches: the hooks buffer items
        self.idle = True  # the thread has not started in this process
        self._stopped = False
        self.collector = LiveCollector(ikey, clock, request_lookup, trace_sample_rate,
                                      span_envelopes=span_envelopes, log_envelopes=log_envelopes)
        self.usage = usage or UsageMeter(clock)
        self._warned: set = set()
        self._new_process()
        on_fork_in_child(self, LiveStream._forked)

    # -- per process ---------------------------------------------------------------------------
    def _new_process(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.identity = Identity(
            stream_id=new_stream_id(),
            machine_name=machine_name(),
            instance="%s (pid %d)" % (self._role_instance, os.getpid()),
            role_name=self._role_name,
        )
        self.client = LiveClient(self.configured_endpoint, self._ikey, self._token_provider, ssl_context=self._ssl_context)
        self.schedule = LiveSchedule(self._clock())
        self.configuration = LiveConfiguration()
        self.collecting = False
        self.collector.restart()
        self.usage.restart()

    def _forked(self) -> None:
        # The parent's thread does not exist here, and its socket and buffer are not ours.
        self.idle = True
        self._new_process()

    # -- thread --------------------------------------------------------------------------------
    def wake(self) -> None:
        """Start the thread (first item of this process); never raises into the caller."""
        try:
            with self._lock:
                if not self.idle or self._stopped:
                    return
                self.idle = False
                thread = threading.Thread(target=self._run, name="ai_core live metrics", daemon=True)
                self._thread = thread
            thread.start()
        except Exception:
            logger.debug("Live Metrics: the thread could not start", exc_info=True)

    def shutdown(self, timeout_s: float = 2.0) -> None:
        self._stopped = True
        self.collecting = False
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self.client.close()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))  # our own HTTP calls are never telemetry
        stop = self._stop
        while not stop.is_set():
            started = self._clock()
            try:
                delay = self.tick()
            except Exception:  # a bug must not end Live Metrics for the process's lifetime
                self._warn_once("bug", "Live Metrics: a tick failed; retrying in 5 s", exc_info=True)
                delay = 5.0
            stop.wait(max(0.0, started + delay - self._clock()))

    # -- one tick ------------------------------------------------------------------------------
    def tick(self) -> float:
        """One ping or post; returns the seconds until the next one."""
        sent_at, wall = self._clock(), self._wall()
        was_posting = self.schedule.posting
        if was_posting:
            metrics, documents = self.collector.collect(self.configuration)
            metrics.extend(process_points(self.usage))
            answer = self.client.post(self.data_point(wall, metrics, documents), self.configuration.etag, wall)
        else:
            answer = self.client.ping(self.data_point(wall), self.identity, self.configuration.etag, wall)
        self._apply(answer, "post" if was_posting else "ping")
        delay = self.schedule.next_delay(answer, sent_at)
        if self.schedule.posting != was_posting:
            self.collector.restart()
            self.usage.restart()
            self.collecting = self.schedule.posting and not self._stopped
        return delay

    def data_point(
        self, wall: float, metrics: Optional[List[Dict[str, Any]]] = None,
        documents: Optional[List[Dict[str, Any]]] = None,
    ) -> Dict[str, Any]:
        """A ``MonitoringDataPoint`` (PascalCase, as in the service definition's examples)."""
        identity = self.identity
        point: Dict[str, Any] = {
            "Version": SDK_VERSION,
            "InvariantVersion": INVARIANT_VERSION,
            "Instance": identity.instance,
            "RoleName": identity.role_name,
            "MachineName": identity.machine_name,
            "StreamId": identity.stream_id,
            "Timestamp": utc_now_iso(wall),
            "TransmissionTime": utc_now_iso(wall),
            "IsWebApp": bool(os.environ.get("WEBSITE_SITE_NAME")),
            "PerformanceCollectionSupported": True,
        }
        if metrics is not None:
            point["Metrics"] = metrics
        if documents is not None:
            point["Documents"] = documents
        if self.configuration.errors:
            point["CollectionConfigurationErrors"] = self.configuration.errors
        return point

    def _apply(self, answer: LiveAnswer, operation: str) -> None:
        if not answer.ok:
            self._report_failure(answer, operation)
            return
        if answer.configuration is not None:
            etag = answer.etag or str(answer.configuration.get("ETag") or "")
            if etag != self.configuration.etag or not etag:
                config = parse_configuration(answer.configuration)
                config.etag = etag
                self.configuration = config
                if config.errors:
                    self._warn_once("config %s" % etag, "Live Metrics: %d part(s) of the portal's configuration "
                                    "cannot be applied (reported back to the portal): %s" % (
                                        len(config.errors), "; ".join(e["Message"] for e in config.errors[:3])))
        if answer.redirect:
            self._follow(answer.redirect)

    def _follow(self, location: str) -> None:
        target = location.strip().rstrip("/")
        if target == self.client.endpoint:
            return
        allowed, why = redirect_allowed(self.configured_endpoint, target)
        if not allowed:
            self._warn_once("redirect %s" % target, "Live Metrics: not following the service's redirect to %s: %s"
                            % (target, why))
            return
        logger.info("Live Metrics: the service moved this stream to %s", target)
        self.client.follow_redirect(target)

    def _report_failure(self, answer: LiveAnswer, operation: str) -> None:
        if answer.status == 401 and self._token_provider is not None:
            invalidate = getattr(self._token_provider, "invalidate", None)
            if callable(invalidate):
                invalidate()  # a revoked or expired token: the next call asks the credential again
        if answer.status in (401, 403):
            self._warn_once("auth", "Live Metrics: the service refused this app's %s with HTTP %d; check the "
                            "connection string's key, and with Entra ID the credential option and its role "
                            "(Monitoring Metrics Publisher). Said once; retrying quietly." % (operation, answer.status))
        else:
            self._warn_once("unreachable", "Live Metrics: %s to %s failed (%s); retrying quietly." % (
                operation, self.client.endpoint, answer.error or "HTTP %d" % answer.status))
        logger.debug("Live Metrics %s failed: %s", operation, answer.error or answer.status)

    def _warn_once(self, key: str, message: str, exc_info: bool = False) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning(message, exc_info=exc_info)
