"""``celery beat`` records nothing of its own unless ``record_beat`` asks: standalone beat (a
Flask/FastAPI tasks module calling ``instrument_celery``, and a Django project whose settings
beat loads), embedded beat (``celery worker -B``), and beat's enqueues as the root of the
task's operation with ``record_beat`` (README, "Celery"). Real beat and worker processes,
real Redis, the emulator; ``logging_level`` INFO so that beat's own log lines ("Sending due
task") would be sent if beat's logging reached the export handler."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from celery_worker import CeleryBeat, CeleryWorker
from redis_server import redis_server  # noqa: F401
from task_shop import APP_DIR, WORKER_ROLE, base, envelopes, shop_env, tag, wait_for, worker

DJANGO_PROJECT = Path(__file__).resolve().parent / "djangoproj"
BEAT_LINES = ("Sending due task", "beat: Starting", "Scheduler")


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


@pytest.fixture(autouse=True)
def empty_broker(redis_server):  # noqa: F811
    """Beat sends tasks no worker may run (no worker, or one that stopped first): they must
    not wait in the session's broker for the next test's worker."""
    import redis

    broker = redis.Redis.from_url(redis_server.url(0))
    broker.flushdb()
    yield
    broker.flushdb()


def _shop_env(emu, redis_server, tmp_path, **options):  # noqa: F811
    env = shop_env(emu, redis_server.url(0), redis_server.url(1), tmp_path / "storage",
                   logging_level="INFO", **options)
    env["SHOP_BEAT"] = "1"
    return env


def _django_env(emu, redis_server, tmp_path, **settings):  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "DJSHOP_"))}
    env.update(DJSHOP_CONNECTION_STRING=emu.connection_string, DJSHOP_STORAGE=str(tmp_path / "storage"),
               DJSHOP_BROKER_URL=redis_server.url(0), DJANGO_SETTINGS_MODULE="djshop.settings",
               PYTHONPATH=str(DJANGO_PROJECT), DJSHOP_BEAT="1",
               DJSHOP_AI=json.dumps(dict({"ROLE_NAME": "djshop-web", "LOGGING_LEVEL": "INFO"}, **settings)))
    return env


def _nothing_sent(emu, storage: Path) -> None:
    assert envelopes(emu) == [], [(e["name"], tag(e, "ai.cloud.role"), base(e).get("name") or base(e).get("message"))
                                  for e in envelopes(emu)]
    # Not even kept for later: no offline storage was written.
    assert not any(p.is_file() for p in storage.rglob("*")) if storage.exists() else True


@pytest.mark.parametrize("layout", ["instrument_celery", "flask_app", "django"])
def test_a_beat_process_sends_nothing_by_default(emu, redis_server, tmp_path, layout):  # noqa: F811
    if layout == "django":
        env, module, app_dir = _django_env(emu, redis_server, tmp_path), "djshop", DJANGO_PROJECT
    elif layout == "flask_app":  # the module beat loads creates the Flask app, telemetry and all
        env, module, app_dir = _shop_env(emu, redis_server, tmp_path), "flask_shop", APP_DIR
    else:
        env, module, app_dir = _shop_env(emu, redis_server, tmp_path), "celery_shop", APP_DIR
    beat = CeleryBeat(module, app_dir, env, tmp_path).start()
    try:
        beat.sent(3)  # beat ran: it loaded the app (and the Django settings) and sent its tasks
    finally:
        assert beat.stop() == 0
    # Whatever beat had recorded would have been flushed when it exited (SIGTERM): the
    # emulator has nothing, no enqueue, no log of beat's, no metric.
    _nothing_sent(emu, tmp_path / "storage")


def test_record_beat_makes_each_scheduled_enqueue_the_root_of_its_task(emu, redis_server, tmp_path):  # noqa: F811
    env = _shop_env(emu, redis_server, tmp_path, record_beat=True)
    with worker(env, concurrency=1) as w:
        beat = CeleryBeat("celery_shop", APP_DIR, env, tmp_path).start()
        try:
            beat.sent(2)
            w.wait_for_output("succeeded", count=2)
        finally:
            assert beat.stop() == 0
    enqueues = wait_for(emu, 2, type="dependency", name="apply_async/shop.tasks.send_receipt")
    tasks = wait_for(emu, 2, type="request", name="shop.tasks.send_receipt")
    # Beat's role: the worker's ("celery_shop", the Celery app's name) plus -beat.
    assert {tag(e, "ai.cloud.role") for e in enqueues} == {WORKER_ROLE + "-beat"}
    assert {tag(t, "ai.cloud.role") for t in tasks} == {WORKER_ROLE}
    by_id = {base(e)["id"]: e for e in enqueues}
    for task in tasks[:2]:
        enqueue = by_id[tag(task, "ai.operation.parentId")]  # the task joins the enqueue's operation
        assert tag(task, "ai.operation.id") == tag(enqueue, "ai.operation.id")
        assert "ai.operation.parentId" not in enqueue["tags"]  # the enqueue is the operation's root
        assert base(enqueue)["type"] == "Queue Message"
    # Beat records its enqueues and, like any process, its log records at logging_level (INFO
    # here); no raw Redis commands.
    beat_items = envelopes(emu, role=WORKER_ROLE + "-beat")
    assert {e["name"].rsplit(".", 1)[-1] for e in beat_items} <= {"RemoteDependency", "Metric", "Message"}
    assert not [d for d in envelopes(emu, type="dependency") if base(d)["type"] == "redis"
                and tag(d, "ai.cloud.role") != WORKER_ROLE]


def test_django_record_beat_names_beat_after_the_web_role(emu, redis_server, tmp_path):  # noqa: F811
    env = _django_env(emu, redis_server, tmp_path, RECORD_BEAT=True)
    with CeleryWorker("djshop", DJANGO_PROJECT, env, concurrency=1) as w:
        beat = CeleryBeat("djshop", DJANGO_PROJECT, env, tmp_path).start()
        try:
            beat.sent(1)
            w.wait_for_output("succeeded", count=1)
        finally:
            assert beat.stop() == 0
    [enqueue] = wait_for(emu, 1, type="dependency", name="apply_async/orders.tasks.send_confirmation")[:1]
    assert tag(enqueue, "ai.cloud.role") == "djshop-web-beat"
    task = [t for t in wait_for(emu, 1, type="request", name="orders.tasks.send_confirmation")
            if tag(t, "ai.operation.parentId") == base(enqueue)["id"]]
    assert len(task) == 1 and tag(task[0], "ai.operation.id") == tag(enqueue, "ai.operation.id")
    assert tag(task[0], "ai.cloud.role") == "djshop-web-worker"


@pytest.mark.parametrize("record_beat", [False, True], ids=["default", "record_beat"])
def test_embedded_beat_records_the_tasks_and_nothing_of_beat(emu, redis_server, tmp_path, record_beat):  # noqa: F811
    env = _shop_env(emu, redis_server, tmp_path, record_beat=record_beat)
    w = worker(env, concurrency=1, extra_args=["-B", "--schedule", str(tmp_path / "beat-schedule")]).start()
    try:
        w.wait_for_output("succeeded", count=3)
    finally:
        assert w.stop() == 0
    tasks = wait_for(emu, 3, timeout=30, type="request", name="shop.tasks.send_receipt")
    ops = {tag(t, "ai.operation.id") for t in tasks}
    assert {tag(t, "ai.cloud.role") for t in tasks} == {WORKER_ROLE}
    assert [e for e in envelopes(emu, type="request") if base(e)["name"] != "shop.tasks.send_receipt"] == []
    deps = envelopes(emu, type="dependency")
    # The tasks' own Redis calls, each under its task, and (when asked) beat's enqueues.
    redis_calls = [d for d in deps if base(d)["type"] == "redis"]
    assert {base(d)["name"] for d in redis_calls} == {"INCRBY"}
    assert all(tag(d, "ai.operation.id") in ops for d in redis_calls), [base(d) for d in redis_calls]
    enqueues = [d for d in deps if base(d)["type"] != "redis"]
    if record_beat:  # (beat may have sent one more that the stopping worker did not run)
        assert {base(e)["name"] for e in enqueues} == {"apply_async/shop.tasks.send_receipt"}
        assert {tag(e, "ai.cloud.role") for e in enqueues} == {WORKER_ROLE + "-beat"}
        by_id = {base(e)["id"]: e for e in enqueues}
        for task in tasks:
            enqueue = by_id[tag(task, "ai.operation.parentId")]
            assert tag(enqueue, "ai.operation.id") == tag(task, "ai.operation.id")
    else:
        assert enqueues == []
        assert all("ai.operation.parentId" not in t["tags"] for t in tasks)
        # Beat's own log lines (INFO, the level the options export) reach nothing.
        messages = [base(e)["message"] for e in envelopes(emu, type="trace")]
        assert not [m for m in messages if any(line in m for line in BEAT_LINES)], messages
