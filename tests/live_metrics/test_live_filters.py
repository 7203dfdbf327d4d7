"""The portal's collection configuration as pure rules: documents from envelopes, filters,
quotas and the errors reported back (tables over plain values)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.live_metrics.documents import iso_duration, live_item, timespan_seconds
from ai_core.live_metrics.filters import parse_configuration


def request(name: str = "GET /items/{id}", code: str = "200", success: bool = True, duration: str = "0.00:00:00.120",
            url: str = "http://shop/items/1", props: Dict[str, str] = None) -> Dict[str, Any]:
    return {"data": {"baseType": "RequestData", "baseData": {
        "name": name, "url": url, "responseCode": code, "success": success, "duration": duration,
        "properties": props or {}}}}


def dependency(success: bool = True, duration: str = "0.00:00:00.700") -> Dict[str, Any]:
    return {"data": {"baseType": "RemoteDependencyData", "baseData": {
        "name": "SELECT shop.items", "type": "postgresql", "target": "db:5432", "data": "SELECT * FROM items",
        "resultCode": "0", "success": success, "duration": duration, "properties": {}}}}


def stream(groups: List[Dict[str, Any]], quota: Any = None) -> Dict[str, Any]:
    return {"ETag": "e1", "Metrics": [], "QuotaInfo": quota, "DocumentStreams": [{"Id": "s1", "DocumentFilterGroups": groups}]}


def group(kind: str, *filters: Any) -> Dict[str, Any]:
    return {"TelemetryType": kind, "Filters": {"Filters": [
        {"FieldName": f, "Predicate": p, "Comparand": c} for f, p, c in filters]}}


def wanted(config: Dict[str, Any], envelope: Dict[str, Any]) -> bool:
    parsed = parse_configuration(config)
    assert parsed.errors == []
    item = live_item(envelope)
    return any(s.wants(item) for s in parsed.streams)


@pytest.mark.parametrize("filters, envelope, expected", [
    ((("Duration", "GreaterThan", "0.00:00:00.5"),), dependency(duration="0.00:00:00.700"), True),
    ((("Duration", "GreaterThan", "0.00:00:00.5"),), dependency(duration="0.00:00:00.300"), False),
    ((("Success", "Equal", "false"),), dependency(success=False), True),
    ((("Type", "Equal", "postgresql"), ("Target", "Contains", "DB:")), dependency(), True),  # Contains ignores case
    ((("Type", "Equal", "PostgreSQL"),), dependency(), False),  # Equal does not
    ((("Data", "DoesNotContain", "delete"),), dependency(), True),
    ((("Data", "DoesNotContain", "select"),), dependency(), False),  # ignores case too
    ((("*", "Contains", "items"),), dependency(), True),
])
def test_dependency_filters(filters: Any, envelope: Dict[str, Any], expected: bool) -> None:
    assert wanted(stream([group("Dependency", *filters)]), envelope) is expected


@pytest.mark.parametrize("filters, envelope, expected", [
    ((("ResponseCode", "GreaterThanOrEqual", "500"),), request(code="503", success=False), True),
    ((("ResponseCode", "GreaterThanOrEqual", "500"),), request(code="404", success=False), False),
    ((("CustomDimensions.tenant", "Equal", "contoso"),), request(props={"tenant": "contoso"}), True),
    ((("CustomDimensions.tenant", "Equal", "contoso"),), request(), False),
    ((("*", "Contains", "CONTOSO"),), request(props={"tenant": "contoso"}), True),
    ((("Name", "Contains", "items"), ("Success", "Equal", "true")), request(), True),
])
def test_request_filters(filters: Any, envelope: Dict[str, Any], expected: bool) -> None:
    assert wanted(stream([group("Request", *filters)]), envelope) is expected


@pytest.mark.parametrize("bad, kind", [
    (group("Request", ("Duration", "GreaterThan", "soon")), "DocumentStreamFailureToCreateFilterUnexpected"),
    (group("Request", ("*", "Equal", "x")), "DocumentStreamFailureToCreateFilterUnexpected"),
    (group("Request", ("Target", "Equal", "x")), "DocumentStreamFailureToCreateFilterUnexpected"),  # not a request field
    (group("Request", ("Name", "GreaterThan", "x")), "DocumentStreamFailureToCreateFilterUnexpected"),
    (group("Request", ("Name", "Equal", "")), "DocumentStreamFailureToCreateFilterUnexpected"),
    (group("Metric"), "DocumentStreamFailureToCreate"),
])
def test_a_filter_that_cannot_be_applied_is_reported_and_the_rest_applies(bad: Dict[str, Any], kind: str) -> None:
    parsed = parse_configuration(stream([bad, group("Exception")]))
    assert [e["CollectionConfigurationErrorType"] for e in parsed.errors] == [kind]
    assert {"key": "DocumentStreamInfoId", "value": "s1"} in parsed.errors[0]["Data"]
    assert list(parsed.streams[0].groups) == ["Exception"]


def test_duplicate_ids_are_reported() -> None:
    config = stream([group("Request")])
    config["DocumentStreams"].append(dict(config["DocumentStreams"][0]))
    metric = {"Id": "m", "TelemetryType": "Request", "Projection": "Count()", "Aggregation": "Sum",
              "BackEndAggregation": "Sum", "FilterGroups": []}
    config["Metrics"] = [metric, dict(metric)]
    kinds = sorted(e["CollectionConfigurationErrorType"] for e in parse_configuration(config).errors)
    assert kinds == ["DocumentStreamDuplicateIds", "MetricDuplicateIds"]


def test_quota_limits_documents_per_stream() -> None:
    parsed = parse_configuration(stream([group("Request")], quota={"InitialQuota": 2, "MaxQuota": 3,
                                                                    "QuotaAccrualRatePerSec": 1}))
    s = parsed.streams[0]
    assert [s.take() for _ in range(3)] == [True, True, False]
    s.refill(10.0)
    assert [s.take() for _ in range(4)] == [True, True, True, False]  # refilled to MaxQuota, not beyond


def test_documents_carry_the_envelope_values() -> None:
    doc = live_item(dependency(success=False)).document(["s1"])
    assert doc == {"DocumentType": "RemoteDependency", "Name": "SELECT shop.items", "CommandName": "SELECT * FROM items",
                   "ResultCode": "0", "Duration": "PT0.7S", "DocumentStreamIds": ["s1"]}
    event = live_item({"data": {"baseType": "EventData", "baseData": {"name": "CheckoutCompleted",
                                                                        "properties": {"cart": "3"}}}})
    assert event.kind == "Event"
    assert event.document(["s1"])["Properties"] == [{"key": "cart", "value": "3"}]


@pytest.mark.parametrize("seconds, text", [(0.0010105, "PT0.0010105S"), (0.0, "PT0S"), (75.5, "PT1M15.5S"),
                                           (3600.0, "PT1H"), (90061.0, "P1DT1H1M1S")])
def test_iso_8601_durations(seconds: float, text: str) -> None:
    assert iso_duration(seconds) == text


@pytest.mark.parametrize("text, seconds", [("0.00:00:00.5", 0.5), ("14.6:56:7.89", 1234567.89), ("00:01:00", 60.0),
                                           ("soon", None), ("1:2", None)])
def test_timespan_comparands(text: str, seconds: Any) -> None:
    assert timespan_seconds(text) == (pytest.approx(seconds) if seconds is not None else None)
