"""SQLite storage of accepted and rejected telemetry, and the queries behind the JSON API.

One connection, guarded by one lock, serves every thread of the HTTP server: SQLite allows a
single writer anyway, a batch is written in one transaction with ``executemany``, and reads are
small (``LIMIT``ed, indexed). File databases use WAL with ``synchronous=NORMAL`` so a commit
does not wait for fsync of the whole file; they survive restarts. ``":memory:"`` is for tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ai_core.emulator.summary import Summary

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    type TEXT NOT NULL,
    ikey TEXT,
    time TEXT,
    name TEXT,
    role TEXT,
    role_instance TEXT,
    operation_id TEXT,
    parent_id TEXT,
    telemetry_id TEXT,
    success INTEGER,
    duration_ms REAL,
    result_code TEXT,
    severity INTEGER,
    target TEXT,
    warnings TEXT,
    envelope TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS items_type_time ON items(type, time);
CREATE INDEX IF NOT EXISTS items_operation ON items(operation_id);
CREATE INDEX IF NOT EXISTS items_role ON items(role);
CREATE INDEX IF NOT EXISTS items_time ON items(time);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    batch_index INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    message TEXT NOT NULL,
    envelope TEXT NOT NULL
);
"""

_ITEM_COLUMNS = (
    "received_at, type, ikey, time, name, role, role_instance, operation_id, parent_id, "
    "telemetry_id, success, duration_ms, result_code, severity, target, warnings, envelope"
)
_INSERT_ITEM = "INSERT INTO items (%s) VALUES (%s)" % (_ITEM_COLUMNS, ", ".join("?" * 17))
_INSERT_REJECTED = (
    "INSERT INTO rejected (received_at, batch_index, status_code, message, envelope) "
    "VALUES (?, ?, ?, ?, ?)"
)

MAX_LIMIT = 10000


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add_filters(where: List[str], params: List[Any], equal: Any, since: Optional[str], until: Optional[str]) -> None:
    """The filters the item list and the aggregates share: ``column = value`` for each given
    value, and the inclusive telemetry-time window."""
    for column, value in equal:
        if value is not None:
            where.append(column + " = ?")
            params.append(value)
    if since:
        where.append("time >= ?")
        params.append(since)
    if until:
        where.append("time <= ?")
        params.append(until)


class Store:
    """Thread-safe access to the emulator database (``path`` or ``":memory:"``)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ---------------------------------------------------------------------------

    def add_batch(
        self,
        accepted: Sequence[Tuple[Summary, Optional[List[str]], str]],
        rejected: Sequence[Tuple[int, int, str, str]],
    ) -> None:
        """Store one track batch in one transaction.

        ``accepted``: ``(summary, warnings, envelope JSON)``; ``rejected``:
        ``(batch index, status code, message, item JSON)``.
        """
        if not accepted and not rejected:
            return
        now = utc_now()
        item_rows = [
            (now, s.type, s.ikey, s.time, s.name, s.role, s.role_instance, s.operation_id,
             s.parent_id, s.telemetry_id, s.success, s.duration_ms, s.result_code, s.severity,
             s.target, json.dumps(w) if w else None, text)
            for s, w, text in accepted
        ]
        rejected_rows = [(now, i, code, msg, text) for i, code, msg, text in rejected]
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                if item_rows:
                    db.executemany(_INSERT_ITEM, item_rows)
                if rejected_rows:
                    db.executemany(_INSERT_REJECTED, rejected_rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def clear(self) -> None:
        """Delete every item and rejected item (ids keep increasing: pollers never go back)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM items")
            self._db.execute("DELETE FROM rejected")
            self._db.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------

    def _select(self, sql: str, params: Iterable[Any] = ()) -> List[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, tuple(params))
            columns = [c[0] for c in cursor.description]
            rows = cursor.fetchall()
        return [dict(zip(columns, row)) for row in rows]

    def select(self, sql: str, params: Iterable[Any] = ()) -> List[Dict[str, Any]]:
        """Rows of a read-only query as dicts (the overviews in ``aggregates.py`` use it)."""
        return self._select(sql, params)

    def select_rows(self, sql: str, params: Iterable[Any] = ()) -> List[Tuple[Any, ...]]:
        """Rows of a read-only query as tuples: for scans of many rows, where dicts cost."""
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def items(
        self,
        type: Optional[str] = None,
        role: Optional[str] = None,
        name: Optional[str] = None,
        target: Optional[str] = None,
        operation_id: Optional[str] = None,
        since: Optional[str] = None,
        until: Optional[str] = None,
        success: Optional[bool] = None,
        q: Optional[str] = None,
        after_id: Optional[int] = None,
        limit: int = 100,
        offset: int = 0,
    ) -> List[Dict[str, Any]]:
        """Items matching every given filter, newest (telemetry time) first.

        ``type`` may be a comma-separated list; ``name`` and ``target`` match exactly; ``since``/``until`` are normalised UTC times
        (inclusive); ``q`` is a case-insensitive substring of the envelope JSON; ``after_id``
        returns only items stored after that id (for polling).
        """
        where: List[str] = []
        params: List[Any] = []
        if type:
            types = [t.strip() for t in type.split(",") if t.strip()]
            where.append("type IN (%s)" % ", ".join("?" * len(types)))
            params.extend(types)
        add_filters(where, params, (("role", role), ("name", name), ("target", target),
                                    ("operation_id", operation_id)), since, until)
        if success is not None:
            where.append("success = ?")
            params.append(1 if success else 0)
        if q:
            where.append("envelope LIKE ? ESCAPE '\\'")
            params.append("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if after_id is not None:
            where.append("id > ?")
            params.append(after_id)
        sql = "SELECT * FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY time DESC, id DESC LIMIT ? OFFSET ?"
        params.extend([max(0, min(limit, MAX_LIMIT)), max(0, offset)])
        return [_item(row) for row in self._select(sql, params)]

    def item(self, item_id: int) -> Optional[Dict[str, Any]]:
        rows = self._select("SELECT * FROM items WHERE id = ?", (item_id,))
        return _item(rows[0]) if rows else None

    def operation(self, operation_id: str) -> List[Dict[str, Any]]:
        """Every item of one operation, oldest first."""
        rows = self._select(
            "SELECT * FROM items WHERE operation_id = ? ORDER BY time, id", (operation_id,))
        return [_item(row) for row in rows]

    def rejected(self, limit: int = 100, offset: int = 0,
                 after_id: Optional[int] = None) -> List[Dict[str, Any]]:
        """Rejected items, newest first, with the item as sent (parsed when it was JSON)."""
        sql = "SELECT * FROM rejected"
        params: List[Any] = []
        if after_id is not None:
            sql += " WHERE id > ?"
            params.append(after_id)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        params.extend([max(0, min(limit, MAX_LIMIT)), max(0, offset)])
        out = []
        for row in self._select(sql, params):
            text = row.pop("envelope")
            try:
                row["envelope"] = json.loads(text)
            except ValueError:
                row["envelope"] = None
            row["raw"] = text
            out.append(row)
        return out

    def counts(self) -> Dict[str, Any]:
        """Stored item counts per type, plus the number of rejected items."""
        rows = self._select("SELECT type, COUNT(*) AS n FROM items GROUP BY type")
        by_type = {row["type"]: row["n"] for row in rows}
        rejected = self._select("SELECT COUNT(*) AS n FROM rejected")[0]["n"]
        return {"items": sum(by_type.values()), "by_type": by_type, "rejected": rejected}

    def roles(self) -> List[Dict[str, Any]]:
        """One entry per cloud role: instances, counts per type, first and last item time."""
        rows = self._select(
            "SELECT role, type, COUNT(*) AS n, MIN(time) AS first, MAX(time) AS last "
            "FROM items GROUP BY role, type")
        instances = self._select(
            "SELECT DISTINCT role, role_instance FROM items WHERE role_instance IS NOT NULL")
        roles: Dict[Any, Dict[str, Any]] = {}
        for row in rows:
            entry = roles.setdefault(row["role"], {
                "role": row["role"], "instances": [], "counts": {},
                "first_time": row["first"], "last_time": row["last"]})
            entry["counts"][row["type"]] = row["n"]
            entry["first_time"] = min(entry["first_time"], row["first"])
            entry["last_time"] = max(entry["last_time"], row["last"])
        for row in instances:
            if row["role"] in roles:
                roles[row["role"]]["instances"].append(row["role_instance"])
        for entry in roles.values():
            entry["instances"].sort()
        return sorted(roles.values(), key=lambda e: (e["role"] is None, e["role"] or ""))

    def dependency_calls(self) -> List[Dict[str, Any]]:
        """Dependencies grouped by (caller role, callee role or external target): the map's edges.

        The callee is the role of a request whose parentId is the dependency's id in the same
        operation; without one, the dependency's target (or type) is an external node.
        """
        return self._select(
            "SELECT d.role AS source, r.role AS target_role, "
            "  COALESCE(NULLIF(d.target, ''), json_extract(d.envelope, '$.data.baseData.type'), "
            "           d.name) AS target_external, "
            "  json_extract(d.envelope, '$.data.baseData.type') AS dependency_type, "
            "  COUNT(*) AS calls, SUM(CASE WHEN d.success = 0 THEN 1 ELSE 0 END) AS failures, "
            "  AVG(d.duration_ms) AS avg_duration_ms "
            "FROM items d LEFT JOIN items r ON r.type = 'request' "
            "  AND r.operation_id = d.operation_id AND r.parent_id = d.telemetry_id "
            "WHERE d.type = 'dependency' "
            "GROUP BY source, target_role, CASE WHEN r.role IS NULL THEN target_external END")

    def request_stats(self) -> List[Dict[str, Any]]:
        """Per role: request count, failures and average duration (the map's node labels)."""
        return self._select(
            "SELECT role, COUNT(*) AS requests, "
            "  SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END) AS failures, "
            "  AVG(duration_ms) AS avg_duration_ms "
            "FROM items WHERE type = 'request' GROUP BY role")


def _item(row: Dict[str, Any]) -> Dict[str, Any]:
    """A stored row as the API returns it: summary columns plus the parsed envelope."""
    if row["success"] is not None:
        row["success"] = bool(row["success"])
    warnings = row["warnings"]
    row["warnings"] = json.loads(warnings) if warnings else []
    row["envelope"] = json.loads(row["envelope"])
    return row
