"""Which live endpoint a connection string implies, and when Live Metrics is on (README, "Live Metrics")."""

from __future__ import annotations

import pytest

from ai_core.connection_string import ConnectionString
from ai_core.live_metrics import decide

KEY = "InstrumentationKey=00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize("cs, url", [
    (KEY, "https://rt.services.visualstudio.com"),
    (KEY + ";IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "https://rt.services.visualstudio.com"),
    (KEY + ";IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;"
           "LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/", "https://westeurope.livediagnostics.monitor.azure.com"),
    (KEY + ";EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2", "https://chinaeast2.live.applicationinsights.azure.cn"),
    (KEY + ";IngestionEndpoint=http://127.0.0.1:8990;LiveEndpoint=http://127.0.0.1:8990", "http://127.0.0.1:8990"),
])
def test_live_metrics_streams_where_the_connection_string_points(cs: str, url: str) -> None:
    decision = decide(None, ConnectionString.parse(cs))
    assert decision.on and decision.url == url


@pytest.mark.parametrize("cs", [
    KEY + ";IngestionEndpoint=http://127.0.0.1:8990",  # the emulator without LiveEndpoint, tests
    KEY + ";IngestionEndpoint=http://localhost:8990/",
    KEY + ";IngestionEndpoint=https://collector.corp.example",  # not Azure: never guess an Azure live host
])
def test_a_connection_string_without_a_live_endpoint_pings_nobody(cs: str) -> None:
    decision = decide(None, ConnectionString.parse(cs))
    assert not decision.on and decision.url is None
    assert "LiveEndpoint" in decision.reason
    assert not decide(True, ConnectionString.parse(cs)).on  # nowhere to stream, even when asked


def test_live_metrics_false_switches_it_off() -> None:
    assert not decide(False, ConnectionString.parse(KEY)).on
