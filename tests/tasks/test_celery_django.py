"""Django: nothing to add. A worker that loads the project's settings (Celery's Django layout,
``app.config_from_object("django.conf:settings", namespace="CELERY")``) records its tasks
under the worker role ``<project>-worker``; a view's ``.delay()`` is an enqueue dependency of
its request, and the task joins the request's operation (README, "Celery")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from celery_worker import CeleryWorker
from redis_server import redis_server  # noqa: F401
from subprocess_helpers import run_python
from task_shop import base, envelopes, tag, wait_for

PROJECT = Path(__file__).resolve().parent / "djangoproj"

WEB = """
import django
django.setup()
from django.test import Client
from ai_core.configure import current

response = Client().post("/checkout/7")
assert response.status_code == 202, response.status_code
print("flushed", current().force_flush(10))
current().shutdown()
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _env(emu: Emulator, redis_server, tmp_path: Path):  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "DJSHOP_"))}
    env.update(DJSHOP_CONNECTION_STRING=emu.connection_string, DJSHOP_STORAGE=str(tmp_path / "storage"),
               DJSHOP_BROKER_URL=redis_server.url(0), DJANGO_SETTINGS_MODULE="djshop.settings",
               PYTHONPATH=str(PROJECT))
    return env


def test_a_django_worker_records_its_tasks_with_the_worker_role_in_the_request_operation(
        emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path)
    with CeleryWorker("djshop", PROJECT, env, concurrency=1) as w:
        out = run_python(WEB, env=env, timeout=120)
        assert out.returncode == 0 and "flushed True" in out.stdout, out.stdout + out.stderr
        [web] = wait_for(emu, 1, type="request", name="POST /checkout/<int:order_id>")
        op = tag(web, "ai.operation.id")
        [task] = wait_for(emu, 1, type="request", operation_id=op, name="orders.tasks.send_confirmation")
        w.wait_for_output("succeeded", count=2)  # the excluded ping ran too
    [enqueue] = [e for e in envelopes(emu, type="dependency", operation_id=op)]
    assert base(enqueue)["name"] == "apply_async/orders.tasks.send_confirmation"
    assert tag(enqueue, "ai.operation.parentId") == base(web)["id"]
    assert tag(task, "ai.operation.parentId") == base(enqueue)["id"]
    assert tag(web, "ai.cloud.role") == "djshop"
    assert tag(task, "ai.cloud.role") == "djshop-worker"
    assert base(task)["responseCode"] == "SUCCESS"
    [log] = wait_for(emu, 1, type="trace", operation_id=op)
    assert base(log)["message"] == "order 7 confirmed"
    assert tag(log, "ai.cloud.role") == "djshop-worker"
    # EXCLUDED_TASKS from settings.APPLICATION_INSIGHTS: the ping sent nothing, in either process.
    assert "ping" not in json.dumps([base(e) for e in envelopes(emu)])


def test_celery_beat_records_nothing_of_its_own(emu, redis_server, tmp_path):  # noqa: F811
    env = dict(_env(emu, redis_server, tmp_path), DJSHOP_BEAT="1", DJSHOP_AI=json.dumps({"ROLE_NAME": "djshop-web"}))
    with CeleryWorker("djshop", PROJECT, env, concurrency=1) as w:
        beat = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "djshop", "beat", "--loglevel", "INFO",
             "--schedule", str(tmp_path / "beat-schedule")],
            cwd=str(PROJECT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            w.wait_for_output("] succeeded in", count=2, timeout=90)  # two scheduled runs done
        finally:
            beat.send_signal(signal.SIGTERM)
            beat.wait(timeout=60)
    # The scheduled tasks ran and were recorded by the worker, as tasks without a caller...
    tasks = wait_for(emu, 2, timeout=30, type="request", name="orders.tasks.send_confirmation")
    assert all("ai.operation.parentId" not in t["tags"] for t in tasks), [t["tags"] for t in tasks]
    # ROLE_NAME names the web app; the worker that shares its settings is its "-worker".
    assert {tag(t, "ai.cloud.role") for t in tasks} == {"djshop-web-worker"}
    # ...and beat, which loads the Django settings too, sent no enqueue of its own.
    assert [base(e)["name"] for e in envelopes(emu, type="dependency")] == []
