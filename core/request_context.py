"""What an incoming request means for the telemetry of its children (DESIGN.md section 3, items 1 and 3).

The official exporter converts each span and log record in isolation, so a dependency or log
line inside a request carries neither the request's operation name nor its client IP/user.
We remember, per trace, the local server span of this process and let the conversion of its
children read from it. The registry is bounded so a process that never ends requests (or
drops them) cannot grow it without limit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass
class RequestContext:
    """Telemetry context of one incoming request, shared by everything recorded inside it.

    ``operation_name`` may be filled lazily: the route of a request is often known only once
    the framework has resolved it, so while the request runs we compute the name from the live
    server span (``name_from_span``) and freeze it when the span ends.
    """

    operation_name: Optional[str] = None
    client_ip: Optional[str] = None
    auth_user_id: Optional[str] = None
    user_id: Optional[str] = None
    live_span: Any = field(default=None, repr=False)
    name_from_span: Optional[Callable[[Any], Optional[str]]] = field(default=None, repr=False)

    def current_operation_name(self) -> Optional[str]:
        if self.operation_name is None and self.live_span is not None and self.name_from_span:
            try:
                return self.name_from_span(self.live_span)
            except Exception:  # a half-built span must never break conversion
                return None
        return self.operation_name


RequestLookup = Callable[[int], Optional[RequestContext]]


class RequestContextRegistry:
    """trace_id -> RequestContext, bounded (oldest forgotten first), safe across threads."""

    def __init__(self, max_entries: int = 20000) -> None:
        self._items: "OrderedDict[int, RequestContext]" = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def put(self, trace_id: int, ctx: RequestContext) -> None:
        with self._lock:
            self._items[trace_id] = ctx
            self._items.move_to_end(trace_id)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get(self, trace_id: int) -> Optional[RequestContext]:
        return self._items.get(trace_id)

    __call__ = get

    def __len__(self) -> int:
        return len(self._items)
