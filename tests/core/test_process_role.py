"""The process's role by the README's rule ("Where the role name comes from"), as a table:
explicit options, then the OpenTelemetry variables, Kubernetes and App Service, then the app's
identity, then the script."""

from __future__ import annotations

import socket
from typing import Dict, Optional

import pytest

from ai_core.role import Role, process_role, role_of_resource

HOST = socket.gethostname()


@pytest.mark.parametrize("env, role_name, role_instance, role_default, expected", [
    ({}, None, None, "shop", Role("shop", HOST)),
    ({}, "checkout", "c-1", "shop", Role("checkout", "c-1")),
    ({"OTEL_SERVICE_NAME": "billing"}, None, None, "shop", Role("billing", HOST)),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=eu,service.name=billing"}, None, None, "shop",
     Role("eu.billing", HOST)),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.namespace=eu,service.name=billing"}, "checkout", None, None,
     Role("checkout", HOST)),
    ({"OTEL_RESOURCE_ATTRIBUTES": "k8s.deployment.name=shop-web,k8s.pod.name=shop-web-7f9c"}, None, None, "shop",
     Role("shop-web", "shop-web-7f9c")),
    ({"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=pod-1,service.instance.id=i-3"}, None, "x", "shop", Role("shop", "x")),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=i-3"}, None, None, "shop", Role("shop", "i-3")),
    ({"WEBSITE_SITE_NAME": "shop-site", "WEBSITE_INSTANCE_ID": "a1b2"}, None, None, "shop", Role("shop-site", "a1b2")),
    ({"WEBSITE_SITE_NAME": "shop-site"}, "checkout", None, "shop", Role("checkout", HOST)),
], ids=["app-identity", "options", "service-name", "namespace", "option-over-namespace", "kubernetes",
        "instance-option-over-pod", "instance-id", "app-service", "option-over-app-service"])
def test_process_role(monkeypatch: pytest.MonkeyPatch, env: Dict[str, str], role_name: Optional[str],
                      role_instance: Optional[str], role_default: Optional[str], expected: Role) -> None:
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "WEBSITE_SITE_NAME", "WEBSITE_INSTANCE_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    role, resource = process_role(role_name, role_instance, role_default)
    assert role == expected
    # Other exporters reading the resource agree on the name (the instance option is ours alone
    # where a pod name is set: the official rule prefers the pod).
    assert role_of_resource(resource.attributes).name == expected.name


def test_the_script_name_is_the_last_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "WEBSITE_SITE_NAME"):
        monkeypatch.delenv(name, raising=False)
    role, _ = process_role()
    assert role.name  # pytest's own script name here; "python-app" under `python -c`
