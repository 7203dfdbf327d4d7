"""One captured item: the envelope dict our exporter would send, with readable shortcuts.

A :class:`TelemetryItem` *is* the envelope (a ``dict``), so ``item["data"]["baseData"]["name"]``
and ``item["tags"]["ai.operation.id"]`` work as in the Application Insights schema, and
comparing it with a dict compares the envelope; the properties only save typing the paths of
the fields a test usually checks.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional


class TelemetryItem(Dict[str, Any]):
    """An envelope (``name``, ``time``, ``iKey``, ``tags``, ``data``) with shortcuts to its fields."""

    @property
    def base_type(self) -> str:
        """``RequestData``, ``RemoteDependencyData``, ``ExceptionData``, ``EventData``, ``MessageData``
        or ``MetricData``."""
        return str(self.get("data", {}).get("baseType", ""))

    @property
    def base_data(self) -> Dict[str, Any]:
        """``data.baseData``: the item's own fields."""
        return self.get("data", {}).get("baseData", {})  # type: ignore[no-any-return]

    @property
    def tags(self) -> Dict[str, Any]:
        return self.get("tags", {})  # type: ignore[no-any-return]

    # -- the item's own fields --------------------------------------------------------------
    @property
    def name(self) -> Optional[str]:
        """A request's or dependency's name (``GET /items/{id}``, ``SELECT``), an event's or a metric's name."""
        base = self.base_data
        if "name" in base:
            return base["name"]  # type: ignore[no-any-return]
        return (base.get("metrics") or [{}])[0].get("name")

    @property
    def value(self) -> Optional[float]:
        """A metric's value: a counter's sum over the collection, a histogram's sum."""
        return (self.base_data.get("metrics") or [{}])[0].get("value")

    @property
    def result_code(self) -> Optional[str]:
        """A request's ``responseCode`` or a dependency's ``resultCode`` (strings, e.g. ``"500"``)."""
        base = self.base_data
        return base.get("responseCode", base.get("resultCode"))

    @property
    def success(self) -> Optional[bool]:
        return self.base_data.get("success")

    @property
    def url(self) -> Optional[str]:
        return self.base_data.get("url")

    @property
    def target(self) -> Optional[str]:
        """A dependency's target (``host:port``, the database name)."""
        return self.base_data.get("target")

    @property
    def type(self) -> Optional[str]:
        """A dependency's type (``HTTP``, ``SQL``, ``sqlite``...)."""
        return self.base_data.get("type")

    @property
    def command(self) -> Optional[str]:
        """A dependency's ``data``: the SQL statement or the called URL."""
        return self.base_data.get("data")

    @property
    def message(self) -> Optional[str]:
        """A log line's message, or the first exception's message."""
        base = self.base_data
        if "message" in base:
            return base["message"]  # type: ignore[no-any-return]
        exceptions = base.get("exceptions") or [{}]
        return exceptions[0].get("message")

    @property
    def type_name(self) -> Optional[str]:
        """An exception item's exception type (``RuntimeError``)."""
        exceptions = self.base_data.get("exceptions") or [{}]
        return exceptions[0].get("typeName")

    @property
    def severity(self) -> Optional[int]:
        """A log line's or exception's ``severityLevel``: 0 Verbose, 1 Information, 2 Warning, 3 Error, 4 Critical."""
        return self.base_data.get("severityLevel")

    @property
    def properties(self) -> Mapping[str, str]:
        """Custom properties (``customDimensions`` in the portal); empty when there are none."""
        return self.base_data.get("properties") or {}  # type: ignore[no-any-return]

    @property
    def measurements(self) -> Mapping[str, float]:
        return self.base_data.get("measurements") or {}  # type: ignore[no-any-return]

    # -- context tags ------------------------------------------------------------------------
    @property
    def operation_id(self) -> Optional[str]:
        """``ai.operation.id``: the trace, shared by a request and everything recorded inside it."""
        return self.tags.get("ai.operation.id")

    @property
    def parent_id(self) -> Optional[str]:
        return self.tags.get("ai.operation.parentId")

    @property
    def operation_name(self) -> Optional[str]:
        """``ai.operation.name``: the request's name, also on its dependencies and log lines."""
        return self.tags.get("ai.operation.name")

    @property
    def auth_user_id(self) -> Optional[str]:
        """``ai.user.authUserId``: the signed-in user's ID by the ``user_id`` option, or None."""
        return self.tags.get("ai.user.authUserId")

    @property
    def user_id(self) -> Optional[str]:
        """``ai.user.id``: the anonymous user ID (the browser SDK's cookie), when there is one."""
        return self.tags.get("ai.user.id")

    @property
    def role(self) -> Optional[str]:
        """``ai.cloud.role``: the role name the item is filed under."""
        return self.tags.get("ai.cloud.role")

    @property
    def role_instance(self) -> Optional[str]:
        return self.tags.get("ai.cloud.roleInstance")

    @property
    def client_ip(self) -> Optional[str]:
        """``ai.location.ip``: the client address by the ``trusted_proxies`` rule."""
        return self.tags.get("ai.location.ip")

    def __repr__(self) -> str:
        return "%s(%s %r %s)" % (type(self).__name__, self.base_type, self.name or self.message, dict.__repr__(self))
