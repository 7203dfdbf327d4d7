"""Celery tasks with a real worker (prefork, Redis broker): each task execution is one request
named by the task, inside the operation of the web request that enqueued it, under the
enqueue dependency; failures, retries, logs, exclusion and the app's own Redis calls as a
user sees them in the portal (README, "Celery")."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from ai_core.emulator import Emulator
from redis_server import redis_server  # noqa: F401
from task_shop import (
    WEB_ROLE,
    WORKER_ROLE,
    base,
    enqueue_from_requests,
    envelopes,
    shop_env,
    tag,
    wait_for,
    worker,
)


@pytest.fixture(scope="module")
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


@pytest.fixture(scope="module")
def shop(emu, redis_server, tmp_path_factory):  # noqa: F811
    """One prefork worker for the module's scenarios; each test finds its own items by the
    operation ids of its own web requests."""
    env = shop_env(emu, redis_server.url(0), redis_server.url(1), tmp_path_factory.mktemp("storage"),
                   excluded_tasks=["shop.tasks.ping"])
    with worker(env, pool="prefork", concurrency=2) as w:
        yield env, w


def _operation(emu: Emulator, operation_id: str) -> List[Dict[str, Any]]:
    return envelopes(emu, operation_id=operation_id)


def _task_request(emu: Emulator, operation_id: str, name: str) -> Dict[str, Any]:
    found = [e for e in wait_for(emu, 1, type="request", operation_id=operation_id, name=name)]
    assert len(found) == 1, found
    return found[0]


def test_a_task_is_one_request_in_the_operation_of_the_web_request_that_enqueued_it(emu, shop, redis_server):  # noqa: F811
    env, _ = shop
    [op] = enqueue_from_requests(env, [("send_receipt", [1001])])

    task = _task_request(emu, op, "shop.tasks.send_receipt")
    web = [e for e in wait_for(emu, 1, type="request", operation_id=op, name="POST /checkout")][0]
    enqueue = [e for e in wait_for(emu, 1, type="dependency", operation_id=op)
               if base(e)["name"].startswith("apply_async/")]
    assert len(enqueue) == 1, enqueue
    enqueue = enqueue[0]

    # The tree: web request -> enqueue dependency -> task request.
    assert tag(enqueue, "ai.operation.parentId") == base(web)["id"]
    assert tag(task, "ai.operation.parentId") == base(enqueue)["id"]
    assert base(enqueue)["name"] == "apply_async/shop.tasks.send_receipt"
    assert base(enqueue)["type"] == "Queue Message"
    assert base(enqueue)["target"] == "celery"  # the queue
    # The application map: web role -> worker role.
    assert tag(web, "ai.cloud.role") == WEB_ROLE and tag(enqueue, "ai.cloud.role") == WEB_ROLE
    assert tag(task, "ai.cloud.role") == WORKER_ROLE

    data = base(task)
    assert data["responseCode"] == "SUCCESS" and data["success"] is True
    assert data["properties"]["celery.task_id"]
    assert data["properties"]["celery.retries"] == "0"
    assert tag(task, "ai.operation.name") == "shop.tasks.send_receipt"

    # The app's own Redis call inside the task: a dependency of the task, named by its
    # command, the server as target, no values.
    redis_deps = [e for e in wait_for(emu, 1, type="dependency", operation_id=op, name="INCRBY")]
    assert len(redis_deps) == 1, [base(e) for e in _operation(emu, op)]
    dep = base(redis_deps[0])
    assert dep["type"] == "redis"
    assert dep["target"] == redis_server.target
    assert dep["data"] == "INCRBY ? ?"
    assert tag(redis_deps[0], "ai.operation.parentId") == data["id"]
    assert tag(redis_deps[0], "ai.cloud.role") == WORKER_ROLE

    # Logs inside the task carry its operation: get_task_logger's and a plain logger's.
    messages = {base(e)["message"]: e for e in wait_for(emu, 2, type="trace", operation_id=op)}
    assert "receipt for order 1001 sent (1 so far)" in messages or any(
        m.startswith("receipt for order 1001 sent") for m in messages), messages
    assert "plain logger inside the task for order 1001" in messages, messages
    for log in messages.values():
        assert tag(log, "ai.operation.parentId") == data["id"]
        assert tag(log, "ai.cloud.role") == WORKER_ROLE

    # The broker's own traffic (enqueue, polling, acknowledgements) is no Redis dependency.
    stray = [base(e) for e in envelopes(emu, type="dependency") if base(e)["type"] == "redis"
             and base(e)["name"] not in ("INCRBY", "SET")]
    assert stray == []
    assert emu.rejected() == []
    # The application map (the emulator's, built as the portal's): an edge web -> worker.
    edges = {(e["source"], e["target"]) for e in emu.app_map()["edges"]}
    assert ("role:" + WEB_ROLE, "role:" + WORKER_ROLE) in edges, emu.app_map()["edges"]
    # No "Overriding of current TracerProvider" (the stock set-up's warning) in the worker.
    assert "Overriding" not in shop[1].output()


def test_a_failing_task_is_one_exception_on_a_failed_request(emu, shop):
    env, w = shop
    [op] = enqueue_from_requests(env, [("charge_card", [1002])])

    task = _task_request(emu, op, "shop.tasks.charge_card")
    data = base(task)
    assert data["responseCode"] == "FAILURE" and data["success"] is False
    [exc] = wait_for(emu, 1, type="exception", operation_id=op)
    details = base(exc)["exceptions"][0]
    assert details["typeName"] == "ValueError"
    assert "card declined for order 1002" in details["message"]
    assert tag(exc, "ai.operation.parentId") == data["id"]
    assert tag(exc, "ai.cloud.role") == WORKER_ROLE
    # Celery logs the failure again, with its traceback, on celery.app.trace, before the
    # task's request ends (so that line, had it been exported, would have arrived with or
    # before the request): not a second exception item.
    w.wait_for_output("raised unexpected: ValueError('card declined for order 1002')")
    assert len(envelopes(emu, type="exception", operation_id=op)) == 1, envelopes(emu, operation_id=op)


def test_a_retried_task_shows_each_run_with_its_state_and_retry_count(emu, shop):
    env, _ = shop
    [op] = enqueue_from_requests(env, [("sync_stock", [1003])])

    runs = wait_for(emu, 2, type="request", operation_id=op, name="shop.tasks.sync_stock")
    by_retry = {base(r)["properties"]["celery.retries"]: base(r) for r in runs}
    assert sorted(by_retry) == ["0", "1"], [base(r) for r in runs]
    first, second = by_retry["0"], by_retry["1"]
    assert (first["responseCode"], first["success"]) == ("RETRY", False)
    assert (second["responseCode"], second["success"]) == ("SUCCESS", True)
    assert first["properties"]["celery.task_id"] == second["properties"]["celery.task_id"]
    # The retry is an enqueue made by the first run: the second run hangs under it.
    retry_enqueue = [e for e in wait_for(emu, 2, type="dependency", operation_id=op)
                     if tag(e, "ai.operation.parentId") == first["id"]]
    assert [base(e)["name"] for e in retry_enqueue] == ["apply_async/shop.tasks.sync_stock"]
    second_run = [r for r in runs if base(r)["properties"]["celery.retries"] == "1"][0]
    assert tag(second_run, "ai.operation.parentId") == base(retry_enqueue[0])["id"]
