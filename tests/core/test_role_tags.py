"""ai.cloud.role / roleInstance: explicit options win over the environment."""

import json

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_explicit_role_instance_wins_over_a_pod_name_in_otel_resource_attributes(emu):
    out = run_python(
        f"""
        import json, ai_core
        from opentelemetry import trace
        seen = []
        tel = ai_core.configure(connection_string={emu.connection_string!r}, role_name="shop", role_instance="shop-1",
                                telemetry_processors=[lambda env: seen.append(env["tags"]) or env])
        with trace.get_tracer("t").start_as_current_span("work"):
            pass
        tel.force_flush(10)
        print(json.dumps(sorted({{(t["ai.cloud.role"], t["ai.cloud.roleInstance"], t["ai.internal.nodeName"]) for t in seen}})))
        """,
        env={"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=shop-7f9c-abcde"},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [["shop", "shop-1", "shop-1"]]


def test_pod_name_is_the_role_instance_when_none_is_configured(emu):
    out = run_python(
        f"""
        import json, ai_core
        from opentelemetry import trace
        seen = []
        tel = ai_core.configure(connection_string={emu.connection_string!r},
                                telemetry_processors=[lambda env: seen.append(env["tags"]) or env])
        with trace.get_tracer("t").start_as_current_span("work"):
            pass
        tel.force_flush(10)
        print(json.dumps(sorted({{t["ai.cloud.roleInstance"] for t in seen}})))
        """,
        env={"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=shop-7f9c-abcde"},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["shop-7f9c-abcde"]


def test_metrics_carry_the_configured_role_instance_in_tags_and_properties_alike(emu):
    out = run_python(
        f"""
        import json, ai_core
        seen = []
        tel = ai_core.configure(connection_string={emu.connection_string!r}, role_name="shop", role_instance="x",
                                telemetry_processors=[lambda env: seen.append(env) or env])
        meter = tel.meter_provider.get_meter("opentelemetry.instrumentation.asgi")
        meter.create_histogram("http.server.duration", unit="ms").record(12.0, {{"http.status_code": 200}})
        tel.force_flush(10)
        metrics = [e for e in seen if e["data"]["baseData"]["properties"].get("_MS.MetricId") == "requests/duration"]
        print(json.dumps([[e["tags"]["ai.cloud.role"], e["tags"]["ai.cloud.roleInstance"],
                           e["data"]["baseData"]["properties"]["cloud/roleName"],
                           e["data"]["baseData"]["properties"]["cloud/roleInstance"]] for e in metrics]))
        """,
        env={"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=pod-1"},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [["shop", "x", "shop", "x"]]
