"""The viewer's Performance, Failures and Metrics overviews: aggregates computed in SQLite.

SQLite filters, groups and counts; for the percentiles it hands over the few columns needed and
they are sorted here (faster than SQLite's window functions, measured at 100,000 items by
``benchmarks/viewer_paint.py``). Percentiles are nearest-rank (the smallest duration with at least p of the items at or below
it), the same rule the viewer's tests check against the raw items.

Time buckets: the range is ``since``..``until`` (default: the first and last matching item)
cut into ``buckets`` equal slices; a bucket is reported by its start time and only when it
holds items.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from ai_core.emulator.store import Store, add_filters

MAX_BUCKETS = 500
RESOURCE_METRIC = "_OTELRESOURCE_"
STANDARD_METRICS = ("requests/duration", "dependencies/duration")
_PERCENTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
_EXC_TYPE = "json_extract(envelope, '$.data.baseData.exceptions[0].typeName')"
_DEP_TYPE = "json_extract(envelope, '$.data.baseData.type')"
_METRIC_ID = "json_extract(envelope, '$.data.baseData.properties.\"_MS.MetricId\"')"
_TIME_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _parse(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FMT).replace(tzinfo=timezone.utc)


def _where(type: str, role: Optional[str], name: Optional[str], target: Optional[str],
           since: Optional[str], until: Optional[str]) -> Tuple[str, List[Any]]:
    clauses: List[str] = ["type = ?"]
    params: List[Any] = [type]
    add_filters(clauses, params, (("role", role), ("name", name), ("target", target)), since, until)
    return " AND ".join(clauses), params


def _bucketing(store: Store, where: str, params: List[Any], since: Optional[str],
               until: Optional[str], buckets: int) -> Optional[Dict[str, Any]]:
    """Start (epoch ms) and width of the buckets, or None when nothing matches."""
    if not since or not until:
        row = store.select("SELECT MIN(time) AS lo, MAX(time) AS hi FROM items WHERE " + where, params)[0]
        if row["lo"] is None:
            return None
        since, until = since or row["lo"], until or row["hi"]
    start = _parse(since)
    span_ms = max(1.0, (_parse(until) - start) / timedelta(milliseconds=1))
    width = max(1.0, span_ms / buckets)
    return {"start": start, "start_ms": start.timestamp() * 1000, "width_ms": width,
            "since": since, "until": until}


def _bucket_sql(b: Dict[str, Any]) -> Tuple[str, List[Any]]:
    """SQL for an item's bucket number (0-based) and its parameters."""
    return ("CAST(((julianday(time) - julianday(?)) * 86400000.0) / ? AS INTEGER)",
            [b["since"], b["width_ms"]])


def _bucket_time(b: Dict[str, Any], index: int) -> str:
    t = b["start"] + timedelta(milliseconds=index * b["width_ms"])
    return t.strftime(_TIME_FMT)


def _nearest_rank(ordered: List[float], p: float) -> Optional[float]:
    if not ordered:
        return None
    return ordered[max(1, math.ceil(round(p * len(ordered), 9))) - 1]


def performance(store: Store, type: str = "request", role: Optional[str] = None,
                name: Optional[str] = None, target: Optional[str] = None,
                since: Optional[str] = None, until: Optional[str] = None,
                buckets: int = 60) -> Dict[str, Any]:
    """Per operation (request: role + name; dependency: role + target + name, with its type)
    the count, failures, average and p50/p95/p99 duration; and count, failures, average and p95
    per time bucket of the items matching every filter.

    SQLite reads the few columns (and the bucket number) in one pass; the sorting for the
    percentiles happens here, which measured faster than SQLite window functions at 100,000
    items."""
    where, params = _where(type, role, name, target, since, until)
    b = _bucketing(store, where, params, since, until, buckets)
    if b is None:
        return {"type": type, "operations": [], "bucket_ms": None, "series": []}
    bucket, bparams = _bucket_sql(b)
    with_target = type == "dependency"
    rows = store.select_rows(
        "SELECT role, name, %s, success, duration_ms, %s, id FROM items WHERE %s"
        % ("target" if with_target else "NULL", bucket, where), bparams + params)
    groups: Dict[Tuple[Any, ...], List[Any]] = {}
    slices: Dict[int, List[Any]] = {}
    last = buckets - 1
    for row in rows:
        groups.setdefault(row[:3], []).append(row)
        slices.setdefault(min(max(int(row[5]), 0), last), []).append(row)
    operations = []
    for (op_role, op_name, op_target), items in groups.items():
        op = _duration_stats(items)
        op.update({"role": op_role, "name": op_name})
        if with_target:
            newest = max(r[6] for r in items)
            found = store.select("SELECT %s AS t FROM items WHERE id = ?" % _DEP_TYPE, [newest])
            op.update({"target": op_target, "dependency_type": found[0]["t"] if found else None})
        operations.append(op)
    operations.sort(key=lambda o: (-o["count"], o["role"] or "", o["name"] or ""))
    series = []
    for i in sorted(slices):
        stats = _duration_stats(slices[i])
        series.append({"time": _bucket_time(b, i), "count": stats["count"], "failed": stats["failed"],
                       "avg_ms": stats["avg_ms"], "p95": stats["p95"],
                       "failure_rate": round(stats["failed"] / stats["count"], 4)})
    return {"type": type, "operations": operations, "bucket_ms": round(b["width_ms"], 3),
            "since": b["since"], "until": b["until"], "series": series}


def _duration_stats(rows: List[Any]) -> Dict[str, Any]:
    """Count, failures, average and percentiles of (role, name, target, success, duration) rows."""
    durations = sorted(r[4] for r in rows if r[4] is not None)
    out: Dict[str, Any] = {"count": len(rows), "failed": sum(1 for r in rows if r[3] == 0),
                           "avg_ms": _round(sum(durations) / len(durations)) if durations else None}
    out.update({key: _round(_nearest_rank(durations, p)) for key, p in _PERCENTILES})
    return out


def _series(store: Store, where: str, params: List[Any], since: Optional[str],
            until: Optional[str], buckets: int) -> Dict[str, Any]:
    b = _bucketing(store, where, params, since, until, buckets)
    if b is None:
        return {"bucket_ms": None, "series": []}
    bucket, bparams = _bucket_sql(b)
    rows = store.select(
        "SELECT %s AS bucket, COUNT(*) AS count, SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS failed "
        "FROM items WHERE %s GROUP BY bucket ORDER BY bucket" % (bucket, where), bparams + params)
    merged: Dict[int, Dict[str, Any]] = {}
    for row in rows:  # the item at ``until`` itself falls just past the last bucket
        i = min(max(int(row["bucket"]), 0), buckets - 1)
        point = merged.setdefault(i, {"time": _bucket_time(b, i), "count": 0, "failed": 0})
        point["count"] += row["count"]
        point["failed"] += row["failed"]
    series = [merged[i] for i in sorted(merged)]
    for point in series:
        point["failure_rate"] = round(point["failed"] / point["count"], 4) if point["count"] else 0.0
    return {"bucket_ms": round(b["width_ms"], 3), "since": b["since"], "until": b["until"], "series": series}


def failures(store: Store, type: str = "request", role: Optional[str] = None,
             name: Optional[str] = None, target: Optional[str] = None,
             since: Optional[str] = None, until: Optional[str] = None,
             buckets: int = 60, top: int = 10) -> Dict[str, Any]:
    """Per operation the failed count and rate (most failures first); failed count and rate per
    time bucket; the most frequent result codes of the failed items and exception types of the
    operations they belong to."""
    where, params = _where(type, role, name, target, since, until)
    group = "role, name" if type == "request" else "role, target, name"
    rows = store.select(
        "SELECT role, name, target, COUNT(*) AS count, "
        "  SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS failed "
        "FROM items WHERE %s GROUP BY %s ORDER BY failed DESC, count DESC, role, name"
        % (where, group), params)
    operations = []
    for row in rows:
        op = {"role": row["role"], "name": row["name"], "count": row["count"], "failed": row["failed"],
              "failure_rate": round(row["failed"] / row["count"], 4) if row["count"] else 0.0}
        if type == "dependency":
            op["target"] = row["target"]
        operations.append(op)
    codes = store.select(
        "SELECT COALESCE(result_code, '') AS result_code, COUNT(*) AS count FROM items "
        "WHERE %s AND success = 0 GROUP BY result_code ORDER BY count DESC, result_code LIMIT ?"
        % where, params + [top])
    exceptions = store.select(
        "SELECT %s AS exception_type, COUNT(*) AS count FROM items WHERE type = 'exception' "
        "AND operation_id IN (SELECT operation_id FROM items WHERE %s AND success = 0) "
        "GROUP BY exception_type ORDER BY count DESC, exception_type LIMIT ?" % (_EXC_TYPE, where),
        params + [top])
    return {"type": type, "operations": operations, "result_codes": codes,
            "exception_types": exceptions, **_series(store, where, params, since, until, buckets)}


def metric_names(store: Store, include_resource: bool = False) -> Dict[str, Any]:
    """Each metric name with its item count, whether its points are pre-aggregated (count > 1,
    min/max: show the average) or single values (counters, gauges: show the sum), the standard
    metric id it stands for, and the custom dimensions present on it."""
    rows = store.select(
        "SELECT name, COUNT(*) AS items, "
        "  MAX(COALESCE(json_extract(envelope, '$.data.baseData.metrics[0].count'), 1)) AS max_count, "
        "  MAX(%s) AS metric_id, MIN(role) AS any_role FROM items WHERE type = 'metric' "
        "GROUP BY name ORDER BY name" % _METRIC_ID)
    keys = store.select(
        "SELECT DISTINCT i.name AS name, p.key AS key FROM items i, "
        "  json_each(i.envelope, '$.data.baseData.properties') p WHERE i.type = 'metric' "
        "ORDER BY p.key")
    dims: Dict[str, List[str]] = {}
    for row in keys:
        if not row["key"].startswith("_MS."):
            dims.setdefault(row["name"], []).append(row["key"])
    out = []
    for row in rows:
        if row["name"] == RESOURCE_METRIC and not include_resource:
            continue
        out.append({"name": row["name"], "items": row["items"],
                    "aggregation": "avg" if (row["max_count"] or 1) > 1 or row["metric_id"] in STANDARD_METRICS else "sum",
                    "standard": row["metric_id"] if row["metric_id"] in STANDARD_METRICS else None,
                    "dimensions": dims.get(row["name"], [])})
    return {"metrics": out}


def metric_series(store: Store, name: str, split: Optional[str] = None,
                  role: Optional[str] = None, since: Optional[str] = None,
                  until: Optional[str] = None, buckets: int = 60) -> Dict[str, Any]:
    """One metric over time: per bucket (and per value of ``split``: ``role`` or a custom
    dimension) the sum of values, the sample count, min, max and average (sum / count), each
    point counted with its own count, min and max when it carries them."""
    where, params = _where("metric", role, name, None, since, until)
    b = _bucketing(store, where, params, since, until, buckets)
    if b is None:
        return {"name": name, "split": split, "bucket_ms": None, "groups": []}
    bucket, bparams = _bucket_sql(b)
    if not split:
        key_sql, kparams = "''", []
    elif split == "role":
        key_sql, kparams = "COALESCE(role, '')", []
    else:
        key_sql = "COALESCE(json_extract(envelope, '$.data.baseData.properties.' || ?), '')"
        kparams = [json.dumps(split)]
    m = "json_extract(envelope, '$.data.baseData.metrics[0].%s')"
    rows = store.select(
        "SELECT %s AS bucket, %s AS split_value, SUM(%s) AS sum, SUM(COALESCE(%s, 1)) AS count, "
        "  MIN(COALESCE(%s, %s)) AS min, MAX(COALESCE(%s, %s)) AS max FROM items WHERE %s "
        "GROUP BY bucket, split_value ORDER BY split_value, bucket"
        % (bucket, key_sql, m % "value", m % "count", m % "min", m % "value", m % "max",
           m % "value", where), bparams + kparams + params)
    groups: Dict[str, Dict[int, Dict[str, Any]]] = {}
    last = buckets - 1
    for row in rows:
        i = min(max(int(row["bucket"]), 0), last)
        points = groups.setdefault(row["split_value"], {})
        p = points.get(i)
        if p is None:
            points[i] = {"time": _bucket_time(b, i), "sum": row["sum"], "count": row["count"],
                         "min": row["min"], "max": row["max"]}
        else:
            p["sum"] += row["sum"]
            p["count"] += row["count"]
            p["min"], p["max"] = min(p["min"], row["min"]), max(p["max"], row["max"])
    out = []
    for value, points in groups.items():
        series = [points[i] for i in sorted(points)]
        for p in series:
            p["sum"] = _round(p["sum"])
            p["avg"] = _round(p["sum"] / p["count"]) if p["count"] else None
        out.append({"value": value, "series": series})
    return {"name": name, "split": split, "bucket_ms": round(b["width_ms"], 3),
            "since": b["since"], "until": b["until"], "groups": out}


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 3)
