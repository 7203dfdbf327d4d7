"""Where the role name and role instance of everything a process sends come from, decided once.

README, "Where the role name comes from". The process's role is decided here when the
pipeline is built and every signal reads that one decision: the part-A tags of spans, logs,
custom events and metrics, the role dimensions of the standard metrics, the tags of the
``_OTELRESOURCE_`` item. First match wins:

* role name: the ``role_name`` option; ``OTEL_SERVICE_NAME``; ``service.name`` in
  ``OTEL_RESOURCE_ATTRIBUTES`` (with ``service.namespace`` in front, ``shop.billing``, as the
  official exporter does); a Kubernetes workload name there (``k8s.deployment.name`` ...);
  the App Service site (``WEBSITE_SITE_NAME``); the app's identity (Django project, Flask
  ``app.name``, FastAPI ``title``, Celery app); the script's name.
* role instance: the ``role_instance`` option; ``k8s.pod.name``, then
  ``service.instance.id`` in ``OTEL_RESOURCE_ATTRIBUTES``; the App Service instance
  (``WEBSITE_INSTANCE_ID``); the host name.

Explicit configuration wins over the environment, which wins over what is inferred. The
decided role is fixed for the process's life (the SDK replaces ``service.instance.id`` in a
forked child, and a configured role instance must survive that), with one exception: a
process model that knows the process better than the host name does gives its default for
what was only inferred, through :meth:`Role.with_defaults` (``Telemetry.use_role_defaults``):
a Celery worker's node name, a prefork child's pool index, beat's role (README, "Celery").
The option and the environment still win over those. An app that serves its
requests under a role of its own (two web apps in one process) is the request layer's
business (``ai_core.web``): its requests' items carry that role instead.

Exporters used on their own (no ``configure()``) keep the official exporter's rule:
:func:`role_of_resource`.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple

from opentelemetry.sdk.resources import OTELResourceDetector, Resource

__all__ = ["Role", "ROLE_TAG", "ROLE_INSTANCE_TAG", "process_role", "role_of_resource"]

ROLE_TAG = "ai.cloud.role"
ROLE_INSTANCE_TAG = "ai.cloud.roleInstance"
NODE_NAME_TAG = "ai.internal.nodeName"

_K8S_ROLE_KEYS = (
    "k8s.deployment.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "k8s.job.name",
    "k8s.cronjob.name",
    "k8s.daemonset.name",
)
# Set by Azure App Service in every site's environment.
ENV_APP_SERVICE_SITE = "WEBSITE_SITE_NAME"
ENV_APP_SERVICE_INSTANCE = "WEBSITE_INSTANCE_ID"


@dataclass(frozen=True)
class Role:
    """A role name and role instance, and the part-A tags they become."""

    name: str
    instance: str
    # Whether the name (the app's identity, the script's name) and the instance (the host
    # name) were only inferred, so that a process model's default may replace them.
    name_inferred: bool = field(default=False, compare=False)
    instance_inferred: bool = field(default=False, compare=False)

    def tags(self) -> Dict[str, str]:
        return {ROLE_TAG: self.name, ROLE_INSTANCE_TAG: self.instance, NODE_NAME_TAG: self.instance}

    def with_defaults(self, name: Optional[str] = None, instance: Optional[str] = None) -> "Role":
        """This role with ``name`` / ``instance`` in place of what was only inferred; itself
        when nothing changes (the ``role_name``/``role_instance`` options and the environment
        are never replaced)."""
        new_name = name if name and self.name_inferred else self.name
        new_instance = instance if instance and self.instance_inferred else self.instance
        if new_name == self.name and new_instance == self.instance:
            return self
        return Role(new_name, new_instance, self.name_inferred, self.instance_inferred)


def _namespaced_service_name(attrs: Mapping[str, Any]) -> str:
    name = attrs.get("service.name")
    if not name:
        return ""
    ns = attrs.get("service.namespace")
    return "%s.%s" % (ns, name) if ns else str(name)


def _workload_name(attrs: Mapping[str, Any]) -> Optional[str]:
    for key in _K8S_ROLE_KEYS:
        if attrs.get(key):
            return str(attrs[key])
    return None


def role_of_resource(attrs: Mapping[str, Any]) -> Role:
    """The official exporter's rule, for exporters used without ``configure()``: role name
    namespace.name, else a Kubernetes workload name (when the name is the SDK's
    ``unknown_service``), else ``""``; instance ``k8s.pod.name``, else ``service.instance.id``,
    else the host name."""
    role = _namespaced_service_name(attrs)
    if not role or str(attrs.get("service.name")).startswith("unknown_service"):
        role = _workload_name(attrs) or role
    instance = attrs.get("k8s.pod.name") or attrs.get("service.instance.id") or platform.node()
    return Role(role, str(instance))


def script_name() -> str:
    """The running script's name (``manage``, ``worker``), the last fallback of the role name."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else "")
    base = os.path.splitext(os.path.basename(path or ""))[0]
    return base if base and base not in ("-c", "__main__") else "python-app"


def environment_names_role(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment names the role (it then beats an app's inferred identity)."""
    return bool(_environment_role(_environment_attributes(), environ))


def _environment_attributes() -> Mapping[str, Any]:
    return OTELResourceDetector().detect().attributes  # OTEL_RESOURCE_ATTRIBUTES + OTEL_SERVICE_NAME


def _environment_role(attrs: Mapping[str, Any], environ: Mapping[str, str]) -> Optional[str]:
    return _namespaced_service_name(attrs) or _workload_name(attrs) or environ.get(ENV_APP_SERVICE_SITE) or None


def process_role(
    role_name: Optional[str] = None,
    role_instance: Optional[str] = None,
    role_default: Optional[str] = None,
    environ: Mapping[str, str] = os.environ,
) -> Tuple[Role, Resource]:
    """The process's role (by the rules above) and the resource the providers are given.

    The resource holds ``OTEL_RESOURCE_ATTRIBUTES`` as set, ``service.name`` and
    ``service.instance.id`` as decided (an explicit role name drops ``service.namespace``, so
    other exporters agree); it is built by hand rather than with ``Resource.create()`` so no
    resource detector can probe a cloud metadata service at start-up.
    """
    env_attrs = _environment_attributes()
    attrs: Dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": _sdk_version(),
    }
    attrs.update(env_attrs)
    name_inferred = False
    if role_name:
        name = role_name
        attrs["service.name"] = role_name
        attrs.pop("service.namespace", None)
    else:
        name = _environment_role(env_attrs, environ) or ""
        if not name:
            name, name_inferred = role_default or script_name(), True
        if not attrs.get("service.name"):
            attrs["service.name"] = name
    given_instance = role_instance or attrs.get("service.instance.id") or environ.get(ENV_APP_SERVICE_INSTANCE)
    attrs["service.instance.id"] = given_instance or socket.gethostname()
    instance = str(role_instance or attrs.get("k8s.pod.name") or attrs["service.instance.id"])
    instance_inferred = not (given_instance or attrs.get("k8s.pod.name"))
    return Role(name, instance, name_inferred, instance_inferred), Resource(attrs)


def _sdk_version() -> str:
    try:
        from opentelemetry.sdk.version import __version__

        return __version__
    except Exception:  # pragma: no cover
        return "unknown"
