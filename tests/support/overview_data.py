"""Envelopes with chosen names, times and durations, for checking the viewer's overviews.

Hand-made (valid per the emulator's schema check) because the Performance, Failures and
Metrics numbers must be compared with exactly known inputs; ``bulk()`` makes the 100,000-item
store the time-to-first-paint measurement loads.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterator, List, Optional

IKEY = "00000000-0000-0000-0000-000000000000"


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def duration(ms: float) -> str:
    total = timedelta(milliseconds=ms)
    seconds = int(total.total_seconds())
    micro = total.microseconds
    return "%02d:%02d:%02d.%06d" % (seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


def _tags(role: str, op: str, op_name: Optional[str], parent: Optional[str] = None) -> Dict[str, str]:
    tags = {"ai.cloud.role": role, "ai.cloud.roleInstance": role + "-1", "ai.operation.id": op}
    if op_name:
        tags["ai.operation.name"] = op_name
    if parent:
        tags["ai.operation.parentId"] = parent
    return tags


def request(name: str, ms: float, at: datetime, role: str = "shop", success: bool = True,
            code: str = "200", op: Optional[str] = None, span_id: Optional[str] = None) -> Dict[str, Any]:
    return {
        "name": "Microsoft.ApplicationInsights.Request", "time": iso(at), "iKey": IKEY,
        "tags": _tags(role, op or os.urandom(16).hex(), name),
        "data": {"baseType": "RequestData", "baseData": {
            "ver": 2, "id": span_id or os.urandom(8).hex(), "name": name, "duration": duration(ms),
            "responseCode": code, "success": success, "url": "http://shop.local" + name.split(" ")[-1]}},
    }


def dependency(name: str, ms: float, at: datetime, target: str, type: str = "SQL",
               role: str = "shop", success: bool = True, code: str = "0",
               op: Optional[str] = None, parent: Optional[str] = None) -> Dict[str, Any]:
    return {
        "name": "Microsoft.ApplicationInsights.RemoteDependency", "time": iso(at), "iKey": IKEY,
        "tags": _tags(role, op or os.urandom(16).hex(), None, parent),
        "data": {"baseType": "RemoteDependencyData", "baseData": {
            "ver": 2, "id": os.urandom(8).hex(), "name": name, "duration": duration(ms),
            "resultCode": code, "success": success, "type": type, "target": target, "data": name}},
    }


def exception(type_name: str, message: str, at: datetime, op: str, parent: Optional[str] = None,
              role: str = "shop") -> Dict[str, Any]:
    return {
        "name": "Microsoft.ApplicationInsights.Exception", "time": iso(at), "iKey": IKEY,
        "tags": _tags(role, op, None, parent),
        "data": {"baseType": "ExceptionData", "baseData": {
            "ver": 2, "severityLevel": 3, "exceptions": [{
                "typeName": type_name, "message": message, "hasFullStack": False,
                "stack": "Traceback (most recent call last):\n  ...\n%s: %s" % (type_name, message)}]}},
    }


def metric(name: str, value: float, at: datetime, role: str = "shop",
           properties: Optional[Dict[str, str]] = None, count: Optional[int] = None,
           min: Optional[float] = None, max: Optional[float] = None) -> Dict[str, Any]:
    point: Dict[str, Any] = {"name": name, "value": value}
    if count is not None:
        point.update({"count": count, "min": min, "max": max})
    return {
        "name": "Microsoft.ApplicationInsights.Metric", "time": iso(at), "iKey": IKEY,
        "tags": {"ai.cloud.role": role, "ai.cloud.roleInstance": role + "-1"},
        "data": {"baseType": "MetricData", "baseData": {
            "ver": 2, "metrics": [point], "properties": dict(properties or {})}},
    }


def bulk(n: int, end: Optional[datetime] = None, span: timedelta = timedelta(hours=1)) -> Iterator[List[Dict[str, Any]]]:
    """``n`` items in batches of 1,000 over ``span`` up to ``end``: requests of 8 operations in 2
    roles with their SQL and HTTP dependencies, exceptions of the failed ones, and metrics."""
    end = end or datetime.now(timezone.utc)
    start = end - span
    names = ["GET /", "GET /products", "GET /products/<id>", "POST /cart", "POST /checkout",
             "GET /api/stock", "GET /api/price", "POST /api/pay"]
    batch: List[Dict[str, Any]] = []
    for i in range(n):
        at = start + span * (i / n)
        kind = i % 10
        name = names[i % len(names)]
        role = "api" if name.startswith(("GET /api", "POST /api")) else "web"
        if kind < 4:
            failed = i % 23 == 0
            batch.append(request(name, 5 + (i * 37) % 400, at, role=role, success=not failed,
                                 code="500" if failed else "200"))
        elif kind < 8:
            batch.append(dependency("SELECT products", 1 + (i * 13) % 60, at, "shop.db", role=role,
                                    success=i % 31 != 0))
        elif kind == 8:
            batch.append(exception("sqlite3.OperationalError", "database is locked", at, os.urandom(16).hex(), role=role))
        else:
            batch.append(metric("orders_placed", i % 5, at, role=role, properties={"region": "eu" if i % 2 else "us"}))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch
