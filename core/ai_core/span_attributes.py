"""A span's attributes as the plain dict the SDK keeps them in.

``ReadableSpan.attributes`` wraps the SDK's ``BoundedAttributes`` in a ``MappingProxyType``:
each ``.get`` is two Python-level calls, and a missing key raises and catches a KeyError
inside ``Mapping.get`` (about a microsecond). Conversion reads some thirty keys per span and
the request layer a handful per request, most of them absent, so both read the dict directly
(read-only), and any other span type takes the public way.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from opentelemetry.attributes import BoundedAttributes

__all__ = ["attribute_dict", "span_attributes"]

_EMPTY: Mapping[str, Any] = {}


def attribute_dict(attributes: Optional[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The plain dict behind ``BoundedAttributes`` (anything else as it is)."""
    if not attributes:
        return _EMPTY
    if attributes.__class__ is BoundedAttributes:
        return attributes._dict  # noqa: SLF001 (read-only use of the SDK's storage)
    return attributes


def span_attributes(span: Any) -> Mapping[str, Any]:
    """The attributes of a live or ended span, without the read-only proxy."""
    raw = getattr(span, "_attributes", None)
    if raw is not None:
        if raw.__class__ is BoundedAttributes:
            return raw._dict  # noqa: SLF001
        if raw.__class__ is dict:
            return raw
    return attribute_dict(getattr(span, "attributes", None))
