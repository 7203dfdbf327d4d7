"""Local Application Insights ingestion emulator: ``python -m ai_core.emulator``.

It speaks the real ingestion protocol on loopback, validates each envelope against the schema,
stores telemetry in SQLite and serves a JSON query API (and, from ``static/``, the viewer). It
serves the Live Metrics (QuickPulse) protocol too, for the viewer's Live tab.

Command line
============
``python -m ai_core.emulator [--port 8990] [--host 127.0.0.1] [--allow-host NAME]...
[--db ./emulator.db | :memory:] [--log-requests]``. ``--port 0`` picks a free port. Start-up
prints (and flushes)::

    Application Insights emulator listening on http://127.0.0.1:8990 (db: /abs/emulator.db)
    Connection string: InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:8990;LiveEndpoint=http://127.0.0.1:8990/
    Viewer: http://127.0.0.1:8990/

In-process
==========
``Emulator(port=0, host="127.0.0.1", db=":memory:")`` runs the server on a daemon thread::

    with Emulator() as emu:
        emu.url, emu.port, emu.connection_string
        emu.items(type="request", role=..., operation_id=..., since=..., until=...,
                  success=True, q="text", after_id=None, limit=100, offset=0)
        emu.wait_for_items(count=2, timeout=10, type="dependency")   # polls, TimeoutError
        emu.item(id), emu.operation(op_id), emu.rejected(), emu.roles(), emu.app_map()
        emu.stats(), emu.add_fault(status=503, count=2), emu.clear_faults(), emu.clear()

The query methods return exactly the dicts of the JSON API below.

In a subprocess
===============
``ai_core.emulator.process.EmulatorProcess(db=":memory:", port=0)`` runs the command line above
and reads the port from its start-up lines (for a test suite of your own, a benchmark)::

    with EmulatorProcess() as emu:
        emu.url, emu.port, emu.connection_string   # then the JSON API below over HTTP

Ingestion
=========
``POST /v2.1/track`` (also ``/v2/track``, repeated slashes and any path prefix allowed).
Body: a JSON array, a single JSON object, or newline-delimited JSON; plain, or
``Content-Encoding: gzip``/``deflate`` (gzip magic is detected without the header too).
Reply (``application/json``)::

    {"itemsReceived": 3, "itemsAccepted": 2,
     "errors": [{"index": 1, "statusCode": 400,
                 "message": "data.baseData.url: longer than 2048 characters (2100)"}]}

Status 200 when every item is accepted, 206 when some are rejected, 400 when every item is
rejected or the body is unreadable (bad gzip, not JSON, nested too deeply, empty; then
``itemsReceived`` is 0 and one error with index 0 says why), 413 when the body is over 64 MiB
or inflates to more than 64 MiB (inflated as a stream, stopped at the cap). In NDJSON a single unparseable line is one rejected item.
Rejection messages are ``"<field path>: <reason>"``; see ``validate.py`` for the rules. Tags
longer than the schema allows are accepted (the service truncates them) and listed in the
item's ``warnings``.

Live Metrics
============
``POST /QuickPulseService.svc/ping`` and ``/post`` (any path prefix), ``?ikey=<GUID>``
required: see ``live.py``. Answers ``x-ms-qps-subscribed`` (true while a viewer's Live tab
heartbeat is younger than 5 s), ``x-ms-qps-configuration-etag``,
``x-ms-qps-service-polling-interval-hint`` (1000 ms, pings while unsubscribed) and, when the
app's ETag differs, the ``CollectionConfigurationInfo`` built from the Live tab's filter and
charts (``live_filter.py``). Bad bodies: 400 ``{"RequestId", "ResponseDateTime", "Code": "InvalidInput",
"Message", "Exception"}``.

Hostile pages
=============
Every request whose ``Host`` is not a loopback name or address (``localhost``, ``*.localhost``,
127.0.0.0/8, ``[::1]``), the ``--host`` served (any IP address when that is ``0.0.0.0`` or
``::``) or an ``--allow-host`` name gets 421 (DNS rebinding). Every state-changing ``/api`` request (not GET/HEAD/OPTIONS) without a
JSON ``Content-Type`` or an ``X-Requested-With`` header gets 403 (cross-site forms). See
``request_guard.py``.

JSON API
========
All under ``/api``; errors are ``{"error": "message"}`` with 400/403/404/405.

``GET /api/items``
    Query: ``type`` (request, dependency, exception, trace, event, metric, availability,
    pageview; comma-separated for several), ``role``, ``name``, ``target`` (exact),
    ``operation_id``, ``since``/``until``
    (ISO 8601, inclusive, on the telemetry time), ``success`` (true/false), ``q`` (substring of
    the envelope JSON, case-insensitive for ASCII), ``after_id`` (only items stored after that
    id: poll with the largest id seen), ``limit`` (default 100, max 10000), ``offset``.
    Newest first (telemetry time, then id). Reply ``{"items": [Item...], "count", "limit"}``.
``GET /api/items/<id>``
    One ``Item``, or 404.
``DELETE /api/items``
    Deletes all items and rejected items and resets the counters: ``{"cleared": true}``.
``GET /api/operations/<operation_id>``
    ``{"operation_id", "items": [Item...], "count"}``, oldest first: the request(s),
    dependencies, exceptions and traces of one operation. Build the tree from ``telemetry_id``
    and ``parent_id``.
``GET /api/roles``
    ``{"roles": [{"role", "instances": [str], "counts": {type: n}, "first_time",
    "last_time"}]}``.
``GET /api/map``
    ``{"nodes": [Node...], "edges": [Edge...]}``. Role node: ``{"id": "role:<name>", "kind":
    "role", "name", "requests", "failed_requests", "avg_duration_ms"}``; external node:
    ``{"id": "external:<target>", "kind": "external", "name", "type"}`` (the dependency type,
    e.g. HTTP, postgresql). Edge: ``{"source", "target" (node ids), "calls", "failures",
    "failure_rate" (0..1), "avg_duration_ms"}``. A dependency of role A whose child request
    (same operation, request parentId == dependency id) is in role B gives A -> B; otherwise
    it goes to the external node of its target (InProc dependencies are left out).
``GET /api/performance`` / ``GET /api/failures``
    Query: ``type`` (request or dependency, default request), ``role``, ``name``, ``target``,
    ``since``/``until``, ``buckets`` (1..500, default 60). Performance: ``{"type",
    "operations": [{"role", "name", ("target", "dependency_type"), "count", "failed", "avg_ms",
    "p50", "p95", "p99"}], "bucket_ms", "since", "until", "series": [{"time", "count",
    "failed", "failure_rate", "avg_ms", "p95"}]}`` (nearest-rank percentiles; a bucket is
    listed by its start when it holds items). Failures: ``operations`` with ``count``,
    ``failed``, ``failure_rate`` (most failures first), ``result_codes`` ``[{"result_code",
    "count"}]`` of the failed items, ``exception_types`` ``[{"exception_type", "count"}]`` of
    their operations, and ``series`` with ``count``, ``failed``, ``failure_rate``.
``GET /api/metrics``
    Without ``name``: ``{"metrics": [{"name", "items", "aggregation" ("sum" or "avg"),
    "standard" ("requests/duration", "dependencies/duration" or null), "dimensions"}]}``;
    ``_OTELRESOURCE_`` only with ``include_resource=true``. With ``name`` (and ``split``:
    ``role`` or a dimension, ``role``, ``since``, ``until``, ``buckets``): ``{"name", "split",
    "bucket_ms", "groups": [{"value", "series": [{"time", "sum", "count", "min", "max",
    "avg"}]}]}``.
``GET /api/rejected``
    Query ``limit``, ``offset``, ``after_id``. ``{"items": [{"id", "received_at",
    "batch_index", "status_code", "message", "envelope" (parsed, or null), "raw" (the text
    as sent)}], "count", "limit"}``, newest first.
``GET /api/stats``
    ``{"received": {"batches_received", "items_received", "items_accepted",
    "items_rejected", "batches_faulted", "batches_unreadable", "bytes_received", "uptime_s"},
    "stored": {"items", "by_type": {type: n}, "rejected"}, "faults_pending"}``.
``POST /api/faults``
    A fault object or a list of them (see ``faults.py``): ``{"status": 503, "count": 3,
    "retry_after": 2}``, ``{"status": 206, "item_status": [200, 500, 400]}``,
    ``{"delay_ms": 500}``, ``{"drop_connection": true}``, ``{"status": 439, "message":
    "..."}``. Faults apply in order to the next track batches (``count`` each, default 1).
    201 ``{"added": [Fault...], "pending": [Fault...]}``.
``GET /api/faults`` / ``DELETE /api/faults``
    ``{"pending": [Fault... with "remaining"]}`` / ``{"cleared": n}``.
``POST /api/live/subscribe``
    A viewer watches: apps are answered ``subscribed`` for the next 5 s. ``{"subscribed": true,
    "ttl_s": 5.0}``.
``POST /api/live/filter``
    ``{"filter": "requests where Success = false and role = shop"}`` (syntax: ``live_filter.py``;
    empty: the portal's default stream). 400 with the reason when it cannot be read; else the
    summary ``{"filter", "document_stream_id", "groups": [{"TelemetryType", "Filters":
    {"Filters": [...]}, "Servers": [{"Field", "Predicate", "Comparand"}]}]}``.
``POST /api/live/charts``
    ``{"charts": "count of requests where Success = false; avg Duration of dependencies"}``:
    charts of your own, sent to the apps as derived ``Metrics`` (syntax: ``live_filter.py``);
    the summary then lists them under ``"charts"`` (DerivedMetricInfo plus ``"Label"``), and
    their values arrive in the points' ``metrics`` under their ``Id``.
``GET /api/live``
    Query ``after_seq`` (documents after it), ``role``. ``{"subscribed", "configuration" (the
    summary above), "streams": [{"role", "instance", "stream_id", "machine_name", "version",
    "state" ("posting" or "pinging"), "seconds_since_seen", "configuration_etag",
    "configuration_errors", "top_cpu_processes", "points": [{"time", "metrics": {name:
    value}}]}], "documents": [{"seq", "time", "role", "instance", "stream_id", "type",
    "document" (as posted)}], "last_seq", "window_s", "dropped_documents"}``.
``DELETE /api/live``
    Forgets the apps and documents seen: ``{"cleared": true}``.

``Item``::

    {"id": 7, "received_at": "2024-05-01T10:00:00.123456Z", "type": "request",
     "ikey": "...", "time": "2024-05-01T09:59:59.900000Z", "name": "GET /hello",
     "role": "frontend", "role_instance": "host-1", "operation_id": "<32 hex>",
     "parent_id": "<16 hex>" | null, "telemetry_id": "<16 hex>" | null,
     "success": true | false | null, "duration_ms": 12.0 | null,
     "result_code": "200" | null, "severity": 0..4 | null, "target": "db|name" | null,
     "warnings": [str], "envelope": {... the envelope as sent ...}}

``name`` is the item's name (request/dependency/event/pageview/availability), the message of a
trace, ``"Type: message"`` of the first exception, or the first metric's name, cut to 512
characters. Times are normalised to UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

Static files
============
Any other ``GET`` serves a file from ``static/`` (``/`` is ``static/index.html``); the viewer
is plain files there, no CDN and no build step.
"""

from ai_core.emulator.service import EMULATOR_IKEY, Emulator, connection_string

__all__ = ["EMULATOR_IKEY", "Emulator", "connection_string"]
