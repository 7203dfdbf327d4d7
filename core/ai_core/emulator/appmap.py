"""The application map: one node per cloud role, edges for the dependencies between them.

A dependency of role A whose child request (a request of the same operation whose parentId is
the dependency's id) belongs to role B is an edge A -> B. A dependency without such a request
goes to an external node named by its target (a database, a third-party API). In-process
dependencies (type ``InProc...``) without a child request are internal work, not calls, and
are left out.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ai_core.emulator.store import Store


def role_node_id(role: Optional[str]) -> str:
    return "role:" + (role or "")


def external_node_id(target: Optional[str]) -> str:
    return "external:" + (target or "")


def build_map(store: Store) -> Dict[str, List[Dict[str, Any]]]:
    """``{"nodes": [...], "edges": [...]}`` (shapes documented in the package docstring)."""
    nodes: Dict[str, Dict[str, Any]] = {}
    for row in store.request_stats():
        nodes[role_node_id(row["role"])] = {
            "id": role_node_id(row["role"]), "kind": "role", "name": row["role"] or "",
            "requests": row["requests"], "failed_requests": row["failures"],
            "avg_duration_ms": _round(row["avg_duration_ms"]),
        }
    edges: List[Dict[str, Any]] = []
    for row in store.dependency_calls():
        source = role_node_id(row["source"])
        if row["target_role"] is not None:
            target = role_node_id(row["target_role"])
            target_node = {"id": target, "kind": "role", "name": row["target_role"],
                           "requests": 0, "failed_requests": 0, "avg_duration_ms": None}
        else:
            if (row["dependency_type"] or "").startswith("InProc"):
                continue
            target = external_node_id(row["target_external"])
            target_node = {"id": target, "kind": "external", "name": row["target_external"] or "",
                           "type": row["dependency_type"]}
        nodes.setdefault(target, target_node)
        nodes.setdefault(source, {"id": source, "kind": "role", "name": row["source"] or "",
                                  "requests": 0, "failed_requests": 0, "avg_duration_ms": None})
        calls = row["calls"]
        edges.append({
            "source": source, "target": target, "calls": calls, "failures": row["failures"],
            "failure_rate": round(row["failures"] / calls, 4) if calls else 0.0,
            "avg_duration_ms": _round(row["avg_duration_ms"]),
        })
    edges.sort(key=lambda e: (e["source"], e["target"]))
    return {"nodes": sorted(nodes.values(), key=lambda n: n["id"]), "edges": edges}


def _round(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 3)
