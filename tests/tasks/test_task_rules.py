"""The task layer's rules (excluded tasks, the worker's role), the ``excluded_tasks`` option, and
``instrument_celery`` sharing one pipeline with the web app in either order (README, "Celery")."""

from __future__ import annotations

import pytest

from ai_core.errors import ConfigurationError
from ai_core.options import resolve_options
from ai_core.role import Role, process_role
from ai_core.tasks.rules import TaskExclusion, beat_role_default, worker_instance, worker_role_default
from redis_server import redis_server  # noqa: F401
from subprocess_helpers import run_python


@pytest.mark.parametrize("name, excluded", [
    ("shop.tasks.ping", True),
    ("shop.reports.daily", True),
    ("shop.reports", False),
    ("shop.tasks.send_receipt", False),
    ("SHOP.TASKS.PING", False),  # task names are case-sensitive
    ("", False),
    (None, False),
])
def test_excluded_tasks_match_names_and_fnmatch_patterns(name, excluded):
    assert TaskExclusion(["shop.tasks.ping", "shop.reports.*"]).excludes(name) is excluded


def test_no_excluded_tasks_excludes_nothing():
    assert not TaskExclusion()
    assert TaskExclusion().excludes("anything") is False


@pytest.mark.parametrize("web_role, main, role", [
    ("shop", None, "shop-worker"),
    ("shop", "proj", "shop-worker"),
    (None, "proj", "proj"),
    (None, "__main__", "celery-worker"),
    (None, None, "celery-worker"),
    ("  ", "", "celery-worker"),
])
def test_the_worker_role_is_the_web_role_plus_worker_else_the_celery_app_name(web_role, main, role):
    assert worker_role_default(web_role, main) == role


def test_excluded_tasks_option_is_validated():
    assert resolve_options({"excluded_tasks": ["shop.tasks.ping", " shop.reports.* "]}).excluded_tasks == (
        "shop.tasks.ping", "shop.reports.*")
    with pytest.raises(ConfigurationError, match="excluded_tasks in configure\\(\\) must be a list of Celery task names"):
        resolve_options({"excluded_tasks": "shop.tasks.ping"})
    with pytest.raises(ConfigurationError, match="excluded_tasks"):
        resolve_options({"excluded_tasks": [3]})
    for name in ("redis", "asyncpg", "celery"):
        assert resolve_options({"instrumentations": [name]}).instrumentations == (name,)


SHARED_PIPELINE = """
import ai_core
from celery import Celery
from ai_core.configure import current
from ai_core.errors import ConfigurationError
from ai_core.tasks import instrument_celery

cs = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"
app = Celery("shop", broker="memory://")
options = dict(connection_string=cs, disable_offline_storage=True, excluded_tasks=["shop.tasks.ping"])
if {web_first}:
    tel = ai_core.configure(**options)
    instrument_celery(app, **options)  # the same options agree with the running pipeline
else:
    instrument_celery(app, **options)  # no pipeline yet: the web app builds it
    tel = ai_core.configure(**options)
assert current() is tel
instrument_celery(app, **options)  # twice: fine
try:
    instrument_celery(Celery("other", broker="memory://"), connection_string=cs, sampling_ratio=0.5)
except ConfigurationError as err:
    print("refused:", err)
tel.shutdown()
"""


@pytest.mark.parametrize("web_first", [True, False], ids=["web-first", "tasks-first"])
def test_instrument_celery_and_the_web_app_share_one_pipeline_in_either_order(web_first):
    out = run_python(SHARED_PIPELINE.format(web_first=web_first), env={"DJANGO_SETTINGS_MODULE": ""})
    assert out.returncode == 0, out.stdout + out.stderr
    assert "refused:" in out.stdout and "sampling_ratio" in out.stdout, out.stdout + out.stderr


@pytest.mark.parametrize("web_role, main, role", [
    ("shop", None, "shop-beat"),
    (None, "proj", "proj-beat"),
    (None, None, "celery-beat"),
])
def test_beat_role_is_the_worker_role_with_beat_for_worker(web_role, main, role):
    assert beat_role_default(web_role, main) == role


def test_a_worker_process_instance_is_the_node_name_and_a_child_adds_its_pool_index():
    assert worker_instance("celery@web1") == "celery@web1"
    assert worker_instance("celery@web1", 2) == "celery@web1/2"


@pytest.mark.parametrize("environ, instance", [
    ({}, "celery@web1/2"),  # only the host name was known: the worker's default replaces it
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.instance.id=box-7"}, "box-7"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=shop-5d9-x2"}, "shop-5d9-x2"),
    ({"WEBSITE_INSTANCE_ID": "a1b2c3"}, "a1b2c3"),
], ids=["host-name", "service.instance.id", "k8s.pod.name", "app-service"])
def test_the_environment_wins_over_the_worker_instance(monkeypatch, environ, instance):
    for name in ("OTEL_RESOURCE_ATTRIBUTES", "OTEL_SERVICE_NAME", "WEBSITE_INSTANCE_ID", "WEBSITE_SITE_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    role, _ = process_role(None, None, "shop-worker")
    assert role.with_defaults("shop-beat", "celery@web1/2") == Role("shop-beat", instance)


def test_the_role_options_win_over_the_process_defaults(monkeypatch):
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    role, _ = process_role("billing-worker", "box-9", "shop-worker")
    assert role.with_defaults("shop-beat", "celery@web1/2") is role
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing")
    role, _ = process_role(None, None, "shop-worker")
    assert role.with_defaults("shop-beat", None).name == "billing"


def test_a_marked_queue_client_records_nothing_and_the_app_client_does(redis_server):  # noqa: F811
    import redis
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ai_core.broker_traffic import mark_queue_client
    from ai_core.redis_instrumentation import RedisInstrumentor

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = RedisInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:  # left on by an earlier test's pipeline
        instrumentor.uninstrument()
    instrumentor.instrument(tracer_provider=provider)
    try:
        app = redis.Redis.from_url(redis_server.url(3))
        queue = mark_queue_client(redis.Redis.from_url(redis_server.url(3)))
        app.set("k", "1")
        queue.set("k", "2")
        with queue.pipeline() as pipe:
            pipe.get("k").incr("n").execute()
        app.incr("n")
        assert [s.name for s in spans.get_finished_spans()] == ["SET", "INCRBY"]
    finally:
        instrumentor.uninstrument()
    # Uninstrumented: neither our wrapper nor the stock one is left.
    assert not hasattr(redis.Redis.execute_command, "__wrapped__")
    assert not hasattr(redis.client.Pipeline.execute, "__wrapped__")
