"""The Live Metrics (QuickPulse) service of the emulator: ping/post, subscription, configuration.

From the published service definition (Azure/azure-rest-api-specs,
``specification/applicationinsights/ApplicationInsights.LiveMetrics``, version
``2024-04-01-preview``):

- ``POST .../QuickPulseService.svc/ping?ikey=<guid>``: a ``MonitoringDataPoint`` (PascalCase
  JSON; optional, the ``x-ms-qps-*`` headers identify the app too). ``.../post``: an array of
  one. A single object or an array is accepted on both.
- The answer: ``x-ms-qps-subscribed`` (``true`` while a viewer's Live tab is open, i.e. a viewer
  said so in the last ``SUBSCRIPTION_TTL_S`` seconds), ``x-ms-qps-configuration-etag``,
  ``x-ms-qps-service-polling-interval-hint`` (ms, to pings while nobody watches), and, when the
  ETag the app sent differs from its current one, a ``CollectionConfigurationInfo`` body whose
  ``DocumentStreams`` are the Live tab's filter (``live_filter``). Each app gets the groups
  meant for it (role/instance conditions), hence its own ETag.
- Bad input (``live_points``) answers 400 with the service's error shape ``{"RequestId",
  "ResponseDateTime", "Code", "Message", "Exception"}``, the message naming the field.

Kept in memory only, bounded: per app (role, instance, stream id) the data points posted in the
last ``WINDOW_S`` seconds (at most ``MAX_POINTS``), at most ``MAX_STREAMS`` apps (the one heard
from longest ago goes first), and the last ``MAX_DOCUMENTS`` sample documents for the feed (at
most ``MAX_DOCUMENTS_PER_POST`` per post, none over ``MAX_DOCUMENT_BYTES``; the rest counted
in ``dropped_documents``).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple

from ai_core.emulator import live_filter
from ai_core.emulator.live_points import DOCUMENT_TYPES, LiveInputError, epoch, parse_body

SUBSCRIPTION_TTL_S = 5.0  # a viewer that stopped asking is gone after this long
PING_INTERVAL_HINT_MS = 1000  # local: show a newly opened Live tab's data within a second or two
WINDOW_S = 60.0
MAX_POINTS = 120
MAX_STREAMS = 100
MAX_DOCUMENTS = 1000
MAX_DOCUMENTS_PER_POST = 100
MAX_DOCUMENT_BYTES = 64 * 1024  # the spec's longest fields (messages) are 32,768 characters
MAX_METRICS_PER_POINT = 200
STREAM_FORGOTTEN_S = 600.0

_GUID = re.compile(r"^\{?[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\}?$")


@dataclass
class LiveReply:
    status: int
    headers: Dict[str, str]
    body: Optional[Dict[str, Any]]  # None: an empty body


@dataclass
class Stream:
    """One app process streaming (role, instance, stream id)."""

    role: str
    instance: str
    stream_id: str
    machine_name: str = ""
    version: str = ""
    first_seen: float = 0.0
    last_ping: Optional[float] = None
    last_post: Optional[float] = None
    etag: str = ""  # the configuration ETag the app last said it applies
    errors: List[Any] = field(default_factory=list)  # its CollectionConfigurationErrors, latest
    # (received, monotonic; shown time, epoch seconds; metrics by name)
    points: Deque[Tuple[float, float, Dict[str, float]]] = field(default_factory=lambda: deque(maxlen=MAX_POINTS))
    top_cpu: List[Any] = field(default_factory=list)

    @property
    def last_seen(self) -> float:
        return max(self.last_ping or 0.0, self.last_post or 0.0, self.first_seen)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def service_error(status: int, code: str, message: str) -> LiveReply:
    return LiveReply(status, {}, {"RequestId": "00000000-0000-0000-0000-000000000000",
                                  "ResponseDateTime": _iso(time.time()), "Code": code,
                                  "Message": message, "Exception": ""})


def _text(value: Any, limit: int = 256) -> str:
    return value[:limit] if isinstance(value, str) else ""


class LiveService:
    """The emulator's Live Metrics state: subscription, configuration and what apps sent."""

    def __init__(self, clock: Any = time.monotonic, wall: Any = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall = wall
        self._watched_until = 0.0
        self._version = 1
        self._filter_text = ""
        self._groups = live_filter.default_groups()
        self._charts_text = ""
        self._charts: List[live_filter.Chart] = []
        self._charts_version = 1
        self._streams: "OrderedDict[Tuple[str, str, str], Stream]" = OrderedDict()
        self._documents: Deque[Dict[str, Any]] = deque(maxlen=MAX_DOCUMENTS)
        self._seq = 0
        self.dropped_documents = 0

    # -- the viewer's side -------------------------------------------------------------------

    def watch(self) -> Dict[str, Any]:
        """A viewer's Live tab is open: apps are told to post for the next few seconds."""
        with self._lock:
            self._watched_until = self._clock() + SUBSCRIPTION_TTL_S
        return {"subscribed": True, "ttl_s": SUBSCRIPTION_TTL_S}

    def subscribed(self) -> bool:
        return self._clock() < self._watched_until

    def set_filter(self, text: str) -> Dict[str, Any]:
        """Apply the Live tab's filter; ``live_filter.FilterError`` when it cannot be parsed."""
        groups = live_filter.parse(text)
        with self._lock:
            self._groups = groups
            self._filter_text = text.strip()
            self._version += 1
        return self.configuration_summary()

    def set_charts(self, text: str) -> Dict[str, Any]:
        """Apply the Live tab's own charts (derived metrics); ``FilterError`` when unreadable."""
        charts = live_filter.parse_charts(text)
        with self._lock:
            self._charts = charts
            self._charts_text = text.strip()
            self._charts_version += 1
        return self.configuration_summary()

    def _chart_id(self, index: int) -> str:
        # New ids per change: values an app computed for an earlier chart are not drawn on it.
        return "emulator-chart-%d-%d" % (self._charts_version, index + 1)

    @property
    def stream_id(self) -> str:
        """The DocumentStreamInfo Id of the current filter: a new one per change, so documents
        chosen by an earlier filter are told apart."""
        return "emulator-filter-%d" % self._version

    def configuration_summary(self) -> Dict[str, Any]:
        with self._lock:
            groups = list(self._groups)
            return {"filter": self._filter_text, "document_stream_id": self.stream_id,
                    "groups": [dict(g.to_json(), Servers=[
                        {"Field": f, "Predicate": p, "Comparand": v} for f, p, v in g.servers]) for g in groups],
                    "charts_text": self._charts_text,
                    "charts": [dict(c.to_json(self._chart_id(i)), Label=c.label)
                               for i, c in enumerate(self._charts)]}

    def configuration_for(self, role: str, instance: str) -> Dict[str, Any]:
        """The ``CollectionConfigurationInfo`` for one app, with its ETag."""
        with self._lock:
            groups = [g.to_json() for g in self._groups if g.sent_to(role, instance)]
            stream_id = self.stream_id
            metrics = [c.to_json(self._chart_id(i)) for i, c in enumerate(self._charts)
                       if c.group.sent_to(role, instance)]
        streams = [{"Id": stream_id, "DocumentFilterGroups": groups}] if groups else []
        config: Dict[str, Any] = {"Metrics": metrics, "DocumentStreams": streams, "QuotaInfo": None}
        digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        return dict(config, ETag="emulator::%s" % digest)

    def snapshot(self, after_seq: int = 0, role: Optional[str] = None) -> Dict[str, Any]:
        """``GET /api/live``: subscription, filter, per-app data points of the last minute,
        and the documents after ``after_seq``."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            streams = []
            for s in self._streams.values():
                if role and s.role != role:
                    continue
                streams.append({
                    "role": s.role, "instance": s.instance, "stream_id": s.stream_id,
                    "machine_name": s.machine_name, "version": s.version,
                    "state": "posting" if s.last_post is not None and now - s.last_post < 3 else "pinging",
                    "seconds_since_seen": round(now - s.last_seen, 3),
                    "configuration_etag": s.etag, "configuration_errors": list(s.errors),
                    "top_cpu_processes": list(s.top_cpu),
                    "points": [{"time": _iso(shown), "metrics": m}
                               for t, shown, m in s.points if now - t <= WINDOW_S],
                })
            documents = [d for d in self._documents if d["seq"] > after_seq
                         and (not role or d["role"] == role)]
            last_seq = self._seq
        summary = self.configuration_summary()
        return {"subscribed": self.subscribed(), "configuration": summary, "streams": streams,
                "documents": documents, "last_seq": last_seq, "window_s": WINDOW_S,
                "dropped_documents": self.dropped_documents}

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()
            self._documents.clear()

    # -- the apps' side ------------------------------------------------------------------------

    def handle(self, operation: str, query: Mapping[str, List[str]], headers: Mapping[str, str],
               body: bytes) -> LiveReply:
        """One ping or post (``operation``); never raises for bad input."""
        ikey = (query.get("ikey") or [""])[-1]
        if not _GUID.match(ikey):
            return service_error(400, "InvalidInput", "iKey is garbage or not in a valid GUID format: %r"
                                 % ikey[:64])
        try:
            points = parse_body(body, headers.get("Content-Encoding"), operation)
        except LiveInputError as exc:
            return service_error(exc.status, "InvalidInput", str(exc))
        point = points[0] if points else {}
        role = _text(point.get("RoleName")) or _text(headers.get("x-ms-qps-role-name"))
        instance = (_text(point.get("Instance")) or _text(headers.get("x-ms-qps-instance-name"))
                    or _text(point.get("MachineName")) or _text(headers.get("x-ms-qps-machine-name")))
        stream_id = _text(point.get("StreamId")) or _text(headers.get("x-ms-qps-stream-id"))
        now = self._clock()
        with self._lock:
            stream = self._stream(role, instance, stream_id, now)
            stream.machine_name = (_text(point.get("MachineName")) or _text(headers.get("x-ms-qps-machine-name"))
                                   or stream.machine_name)
            stream.version = _text(point.get("Version")) or stream.version
            stream.etag = _text(headers.get("x-ms-qps-configuration-etag"), 1024)
            if "CollectionConfigurationErrors" in point:
                stream.errors = list(point.get("CollectionConfigurationErrors") or [])[:20]
            if operation == "ping":
                stream.last_ping = now
            else:
                stream.last_post = now
                for p in points:
                    self._record(stream, p, now)
        subscribed = self.subscribed()
        config = self.configuration_for(role, instance)
        reply_headers = {"x-ms-qps-subscribed": "true" if subscribed else "false",
                         "x-ms-qps-configuration-etag": config["ETag"]}
        if operation == "ping" and not subscribed:
            reply_headers["x-ms-qps-service-polling-interval-hint"] = str(PING_INTERVAL_HINT_MS)
        sent_etag = headers.get("x-ms-qps-configuration-etag") or ""
        return LiveReply(200, reply_headers, None if sent_etag == config["ETag"] else config)

    def _stream(self, role: str, instance: str, stream_id: str, now: float) -> Stream:
        key = (role, instance, stream_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = Stream(role, instance, stream_id, first_seen=now)
            self._streams[key] = stream
            while len(self._streams) > MAX_STREAMS:
                self._streams.popitem(last=False)
        self._streams.move_to_end(key)
        return stream

    def _record(self, stream: Stream, point: Dict[str, Any], now: float) -> None:
        metrics: Dict[str, float] = {}
        for metric in (point.get("Metrics") or [])[:MAX_METRICS_PER_POINT]:
            metrics[metric["Name"][:256]] = float(metric["Value"])
        # Charted at the app's own Timestamp when it is plausible (its rates are per interval
        # between its timestamps), else at the time received.
        wall = self._wall()
        stamp = epoch(point.get("Timestamp"))
        shown = stamp if stamp is not None and abs(stamp - wall) < 300 else wall
        stream.points.append((now, shown, metrics))
        stream.top_cpu = list(point.get("TopCpuProcesses") or [])[:10]
        documents = point.get("Documents") or []
        if len(documents) > MAX_DOCUMENTS_PER_POST:
            self.dropped_documents += len(documents) - MAX_DOCUMENTS_PER_POST
            documents = documents[:MAX_DOCUMENTS_PER_POST]
        received = _iso(wall)
        for doc in documents:
            if len(json.dumps(doc, ensure_ascii=False)) > MAX_DOCUMENT_BYTES:
                self.dropped_documents += 1  # kept in memory for the feed: bounded
                continue
            self._seq += 1
            kind = doc.get("DocumentType")
            self._documents.append({
                "seq": self._seq, "time": received, "role": stream.role, "instance": stream.instance,
                "stream_id": stream.stream_id, "type": kind if kind in DOCUMENT_TYPES else "Unknown",
                "document": doc})

    def _forget_old(self, now: float) -> None:
        for key in [k for k, s in self._streams.items() if now - s.last_seen > STREAM_FORGOTTEN_S]:
            del self._streams[key]
