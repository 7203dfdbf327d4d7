"""Celery's process models with a real worker: prefork children recycled after each task, warm
shutdown, the threads and solo pools; excluded tasks and sampling that follows the caller;
asyncpg queries inside a task (README, "Celery"). Each test has its own worker."""

from __future__ import annotations

import signal

import pytest

from ai_core.emulator import Emulator
from postgres import postgres  # noqa: F401
from redis_server import redis_server  # noqa: F401
from task_shop import WORKER_ROLE, base, enqueue_from_requests, envelopes, shop_env, tag, wait_for, worker


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _env(emu, redis_server, tmp_path, **options):  # noqa: F811
    return shop_env(emu, redis_server.url(0), redis_server.url(1), tmp_path / "storage", **options)


def _redis_dependencies(emu):
    return [base(e) for e in envelopes(emu, type="dependency") if base(e)["type"] == "redis"]


def test_children_recycled_after_every_task_deliver_everything(emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path)
    with worker(env, concurrency=1, extra_args=["--max-tasks-per-child", "1"]):
        ops = enqueue_from_requests(env, [("send_receipt", [n]) for n in (2001, 2002, 2003)])
        # Each child exits through os._exit right after its task: what it recorded must be
        # sent before that, not at an atexit that never runs.
        for op in ops:
            [task] = wait_for(emu, 1, type="request", operation_id=op, name="shop.tasks.send_receipt")
            assert base(task)["responseCode"] == "SUCCESS"
            assert tag(task, "ai.cloud.role") == WORKER_ROLE
            assert len(wait_for(emu, 2, type="trace", operation_id=op)) == 2
            assert [base(d)["name"] for d in wait_for(emu, 2, type="dependency", operation_id=op)
                    if base(d)["type"] == "redis"] == ["INCRBY"]


def test_warm_shutdown_delivers_what_the_worker_recorded_and_excluded_tasks_send_nothing(
        emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path, excluded_tasks=["shop.tasks.p*"])
    w = worker(env, concurrency=2).start()
    try:
        ping_op, receipt_op = enqueue_from_requests(env, [("ping", []), ("send_receipt", [2101])])
        w.wait_for_output("succeeded", count=2)
    finally:
        assert w.stop() == 0  # SIGTERM right after the tasks ran: a warm shutdown
    [task] = wait_for(emu, 1, timeout=30, type="request", operation_id=receipt_op, name="shop.tasks.send_receipt")
    assert len(wait_for(emu, 2, timeout=30, type="trace", operation_id=receipt_op)) == 2

    # The excluded task: no task request, no log, no Redis call, not even its enqueue; the web
    # request that enqueued it is still there.
    assert [base(e).get("name") for e in envelopes(emu, operation_id=ping_op)] == ["POST /checkout"], [(e["name"], base(e)) for e in envelopes(emu, operation_id=ping_op)]
    assert "ping from an excluded task" not in str(envelopes(emu, type="trace"))
    assert [d["name"] for d in _redis_dependencies(emu)] == ["INCRBY"]
    # The contrib instrumentation's runtime histogram is not sent for any task.
    metric_names = {m["name"] for e in envelopes(emu, type="metric") for m in base(e)["metrics"]}
    assert "flower.task.runtime.seconds" not in metric_names


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_threads_and_solo_pools_record_tasks_and_not_the_broker(emu, redis_server, tmp_path, pool):  # noqa: F811
    env = _env(emu, redis_server, tmp_path)
    with worker(env, pool=pool, concurrency=2) as w:
        [op] = enqueue_from_requests(env, [("send_receipt", [2201])])
        [task] = wait_for(emu, 1, type="request", operation_id=op, name="shop.tasks.send_receipt")
        assert tag(task, "ai.cloud.roleInstance") == w.node  # one process: the worker's node name
        [dep] = [d for d in wait_for(emu, 2, type="dependency", operation_id=op) if base(d)["type"] == "redis"]
        assert tag(dep, "ai.operation.parentId") == base(task)["id"]
        assert len(wait_for(emu, 2, type="trace", operation_id=op)) == 2
    assert [d["name"] for d in _redis_dependencies(emu)] == ["INCRBY"]
    assert envelopes(emu, type="exception") == []  # no NoScriptError from the broker's scripts


def test_task_sampling_follows_the_caller_and_tasks_without_one_use_sampling_ratio(emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path)
    w = worker(env, concurrency=1).start()
    try:
        # The web app keeps no trace (sampling_ratio 0): the task it enqueued is not kept either.
        [dropped_op] = enqueue_from_requests(env, [("send_receipt", [2301])], sampling_ratio=0.0)
        # A script without telemetry enqueues: the worker decides by its own sampling_ratio (1.0).
        enqueue_from_requests(env, [("send_receipt", [2302])], telemetry=False)
        w.wait_for_output("succeeded", count=2)
    finally:
        assert w.stop() == 0
    tasks = wait_for(emu, 1, timeout=30, type="request", name="shop.tasks.send_receipt")
    assert len(tasks) == 1, [(e["tags"], base(e)) for e in tasks]
    task = tasks[0]
    assert "ai.operation.parentId" not in task["tags"]  # a root: no caller
    assert task.get("sampleRate", 100.0) == 100.0
    assert envelopes(emu, operation_id=dropped_op) == []
    assert len(envelopes(emu, type="request")) == 1


def test_asyncpg_queries_in_a_task_are_sql_dependencies_of_the_task(emu, redis_server, postgres, tmp_path):  # noqa: F811
    env = shop_env(emu, redis_server.url(0), redis_server.url(1), tmp_path / "storage", pg_dsn=postgres.url)
    with worker(env, concurrency=1):
        [op] = enqueue_from_requests(env, [("query_orders", [41])])
        [task] = wait_for(emu, 1, type="request", operation_id=op, name="shop.tasks.query_orders")
        deps = [d for d in wait_for(emu, 2, type="dependency", operation_id=op) if base(d)["type"] == "postgresql"]
        assert deps, [base(d) for d in envelopes(emu, operation_id=op)]
    queries = [d for d in deps if base(d)["data"] == "SELECT $1::int + 1"]
    assert len(queries) == 1, [base(d) for d in deps]
    assert base(queries[0])["target"] == "%s:%d|%s" % (postgres.host, postgres.port, postgres.dbname)
    assert base(queries[0])["success"] is True
    assert tag(queries[0], "ai.operation.parentId") == base(task)["id"]


def test_cold_shutdown_delivers_what_the_finished_tasks_recorded(emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path, role_instance="shop-box-1")
    w = worker(env, concurrency=2).start()
    try:
        [op] = enqueue_from_requests(env, [("send_receipt", [2401])])
        w.wait_for_output("succeeded", count=1)
    finally:
        w.proc.send_signal(signal.SIGQUIT)  # Celery's cold shutdown: the pool is terminated
        w.proc.wait(timeout=60)
        w.kill()
    [task] = wait_for(emu, 1, timeout=30, type="request", operation_id=op, name="shop.tasks.send_receipt")
    assert len(wait_for(emu, 2, timeout=30, type="trace", operation_id=op)) == 2
    assert tag(task, "ai.cloud.roleInstance") == "shop-box-1"  # the role_instance option wins in a child


def _instance(envelope):
    return tag(envelope, "ai.cloud.roleInstance")


def test_each_prefork_child_is_the_instance_of_its_pool_slot_and_keeps_it_when_recycled(
        emu, redis_server, tmp_path):  # noqa: F811
    env = _env(emu, redis_server, tmp_path)
    w = worker(env, concurrency=2, extra_args=["--max-tasks-per-child", "1"]).start()
    slots = {w.node + "/1", w.node + "/2"}
    try:
        # Two runs that wait for each other are in the two children at once; each child is
        # then recycled, and the next two runs are in the children that replaced them.
        batches = [enqueue_from_requests(env, [("meet", [group, 2]), ("meet", [group, 2])]) for group in ("a", "b")]
        pids = {}
        for ops in batches:
            runs = []
            for op in ops:
                [task] = wait_for(emu, 1, type="request", operation_id=op, name="shop.tasks.meet")
                logs = [e for e in wait_for(emu, 1, type="trace", operation_id=op)
                        if base(e)["message"].startswith("meet ")]
                assert [_instance(log) for log in logs] == [_instance(task)]  # its logs: its instance
                runs.append((_instance(task), base(logs[0])["message"].rsplit(" ", 1)[1]))
            assert {instance for instance, _ in runs} == slots, runs  # two children, two instances
            for instance, pid in runs:
                pids.setdefault(instance, set()).add(pid)
        # A recycled child's successor is another process with the same instance.
        assert all(len(p) == 2 for p in pids.values()), pids
        w.wait_for_output("succeeded", count=4)
    finally:
        assert w.stop() == 0
    # Each child's metrics (performance counters; task requests have no standard metric) carry
    # its instance; the worker's own process is the node.
    metric_instances = {_instance(e) for e in envelopes(emu, type="metric", role=WORKER_ROLE)}
    assert slots <= metric_instances <= slots | {w.node}, metric_instances


def test_the_result_backend_traffic_records_nothing_and_the_app_redis_calls_do(emu, redis_server, tmp_path):  # noqa: F811
    env = shop_env(emu, redis_server.url(0), redis_server.url(1), tmp_path / "storage",
                   result_backend=redis_server.url(2))
    with worker(env, concurrency=2):
        # The view enqueues, asks .ready() and waits in .get() for the result the worker stores.
        [op] = enqueue_from_requests(env, [("send_receipt", [2501])])
        [task] = wait_for(emu, 1, type="request", operation_id=op, name="shop.tasks.send_receipt")
        [web] = wait_for(emu, 1, type="request", operation_id=op, name="POST /checkout")
        deps = wait_for(emu, 3, type="dependency", operation_id=op)
    # The app's own commands: the task's INCRBY under the task, the view's GET under the view;
    # the results' SETEX/PUBLISH/GET/SUBSCRIBE... are the backend's, like the broker's.
    redis = [(base(d)["name"], tag(d, "ai.operation.parentId")) for d in deps if base(d)["type"] == "redis"]
    assert sorted(redis) == sorted([("INCRBY", base(task)["id"]), ("GET", base(web)["id"])]), redis
    assert sorted(d["name"] for d in _redis_dependencies(emu)) == ["GET", "INCRBY"]  # none outside them either
    assert envelopes(emu, type="exception") == []
