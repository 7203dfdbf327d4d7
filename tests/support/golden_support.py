"""Loading the golden corpus (tests/support/golden/, copied from the official exporter's measured output)
and turning its JSON inputs back into real OpenTelemetry SDK objects.

JSON cannot tell 2 from 2.0, so every attribute map comes with OTLP type names
(``attribute_types``); ``typed_attributes`` applies them.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

GOLDEN_DIR = Path(__file__).parent / "golden"
IKEY = "00000000-0000-0000-0000-000000000000"

sys.path.insert(0, str(GOLDEN_DIR))
from normalize import normalize_envelope  # noqa: E402  (the golden corpus's own comparator)

sys.path.pop(0)


def load_cases(name: str) -> List[Dict[str, Any]]:
    """Every line of tests/support/golden/<name>.jsonl, in file order."""
    with open(GOLDEN_DIR / (name + ".jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


_SCALARS = {"string": str, "bool": bool, "int": int, "double": float}


def typed_value(value: Any, type_name: Optional[str]) -> Any:
    if value is None or type_name is None:
        return value
    if type_name.endswith("[]"):
        conv = _SCALARS[type_name[:-2]]
        return tuple(conv(v) for v in value)
    if type_name == "array":  # an empty sequence of unknown element type
        return tuple(value)
    return _SCALARS[type_name](value)


def typed_attributes(attrs: Optional[Mapping[str, Any]], types: Optional[Mapping[str, str]]) -> Dict[str, Any]:
    types = types or {}
    return {k: typed_value(v, types.get(k)) for k, v in (attrs or {}).items()}


def make_resource(spec: Optional[Mapping[str, Any]]) -> Resource:
    """The exact resource of a case (no SDK defaults merged in: ``Resource(...)``, not ``create``)."""
    if not spec:
        return Resource({})
    return Resource(typed_attributes(spec.get("attributes"), spec.get("attribute_types")), spec.get("schema_url") or None)


def make_scope(spec: Optional[Mapping[str, Any]]) -> Optional[InstrumentationScope]:
    if not spec:
        return None
    return InstrumentationScope(spec["name"], spec.get("version") or None, spec.get("schema_url") or None)


def hex_int(value: Optional[str]) -> Optional[int]:
    return int(value, 16) if value else None


def normalized_golden(envelope: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Normalise what varies by host (sdkVersion, device tags, time format, sampleRate repr)."""
    return normalize_envelope(envelope, host_placeholder="golden-host")


def normalized_ours(envelope: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The same normalisation for an envelope made on this host (after a JSON round trip)."""
    return normalize_envelope(wire(envelope), host_placeholder=platform.node())


def json_text(value: Any) -> str:
    """Canonical JSON text of envelopes, the form the comparisons use.

    Python's ``==`` holds ``True == 1 == 1.0``, so an envelope with ``"success": 1`` or a number
    where the wire wants a duration string would compare equal to the official one; JSON text
    does not (``true`` / ``1`` / ``1.0`` / ``"1"`` all differ). Keys are sorted (field order is
    checked on its own where it matters) and indented so a failing assert shows a line diff.
    """
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False)


def wire(envelope: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """What the envelope looks like after a JSON round trip (tuples become lists, etc.)."""
    return None if envelope is None else json.loads(json.dumps(envelope))
