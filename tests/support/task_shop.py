"""The set-up the task tests (tests/tasks) share: Redis, the emulator, a real worker of tests/tasks/app, and a
caller process that enqueues tasks from inside a web request, as a web app's view does."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ai_core.emulator import Emulator
from celery_worker import CeleryWorker
from subprocess_helpers import run_python

APP_DIR = Path(__file__).resolve().parents[1] / "tasks" / "app"
WEB_ROLE = "shop-web"
WORKER_ROLE = "celery_shop"  # the Celery app's name: Celery("celery_shop")

CALLER = """
import json, os
import ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import celery_shop  # instrument_celery runs here, before the web app configures (the usual layout)

if os.environ.get("SHOP_NO_TELEMETRY"):  # a script that never configures telemetry
    for task, args in json.loads(os.environ["SHOP_CALLS"]):
        getattr(celery_shop, task).delay(*args)
    print("OPERATIONS []")
    print("flushed True")
    raise SystemExit(0)

tel = ai_core.configure(role_name={web_role!r}, **json.loads(os.environ["SHOP_AI"]))
tracer = trace.get_tracer("shop-web")
operations = []
for task, args in json.loads(os.environ["SHOP_CALLS"]):
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER, attributes={{
            "http.request.method": "POST", "http.route": "/checkout", "url.path": "/checkout",
            "url.scheme": "http", "server.address": "shop", "http.response.status_code": 202}}) as span:
        result = getattr(celery_shop, task).delay(*args)
        if os.environ.get("SHOP_WAIT_RESULTS"):  # the view waits for the task's result
            result.ready()
            print("RESULT", result.get(timeout=60))
            celery_shop._cache().get("receipts:sent")  # and reads the app's own key
        operations.append(format(span.get_span_context().trace_id, "032x"))
print("OPERATIONS " + json.dumps(operations))
print("flushed", tel.force_flush(10))
tel.shutdown()
"""


def shop_env(emu: Emulator, broker_url: str, cache_url: str, storage: Path, pg_dsn: Optional[str] = None,
             result_backend: Optional[str] = None, **options: Any) -> Dict[str, str]:
    """The environment of the worker and the caller: the same options for both.
    ``result_backend``: tasks store their results there, and callers wait for them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "SHOP_"))}
    ai = {"connection_string": emu.connection_string, "storage_directory": str(storage)}
    ai.update(options)
    env.update(SHOP_BROKER_URL=broker_url, SHOP_CACHE_URL=cache_url, SHOP_AI=json.dumps(ai))
    # Not a Django project: Celery would load the Django settings another test left in the
    # environment (an empty value switches its Django fix-up off; run_python cannot unset).
    env["DJANGO_SETTINGS_MODULE"] = ""
    if pg_dsn:
        env["SHOP_PG_DSN"] = pg_dsn
    if result_backend:
        env.update(SHOP_RESULT_BACKEND=result_backend, SHOP_WAIT_RESULTS="1")
    return env


def worker(env: Dict[str, str], pool: str = "prefork", concurrency: int = 2, extra_args: Sequence[str] = ()) -> CeleryWorker:
    return CeleryWorker("celery_shop", APP_DIR, env, pool=pool, concurrency=concurrency, extra_args=extra_args)


def enqueue_from_requests(env: Dict[str, str], calls: Sequence[Tuple[str, Sequence[Any]]],
                          telemetry: bool = True, **caller_options: Any) -> List[str]:
    """Each call ``(task function name, args)`` is ``.delay()``-ed inside its own web request;
    returns each request's operation id. ``caller_options`` change the web app's options
    (e.g. ``sampling_ratio``); ``telemetry=False``: a script without telemetry enqueues them."""
    run_env = dict(env, SHOP_CALLS=json.dumps([[task, list(args)] for task, args in calls]),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(APP_DIR), env.get("PYTHONPATH", "")])))
    if caller_options:
        run_env["SHOP_AI"] = json.dumps(dict(json.loads(env["SHOP_AI"]), **caller_options))
    if not telemetry:
        run_env["SHOP_NO_TELEMETRY"] = "1"
    out = run_python(CALLER.format(web_role=WEB_ROLE), env=run_env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "flushed True" in out.stdout, out.stdout + out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("OPERATIONS "))
    return json.loads(line[len("OPERATIONS "):])


def envelopes(emu: Emulator, **filters: Any) -> List[Dict[str, Any]]:
    return [item["envelope"] for item in emu.items(limit=1000, **filters)]


def wait_for(emu: Emulator, count: int, timeout: float = 90.0, **filters: Any) -> List[Dict[str, Any]]:
    return [item["envelope"] for item in emu.wait_for_items(count=count, timeout=timeout, **filters)]


def base(envelope: Dict[str, Any]) -> Dict[str, Any]:
    return envelope["data"]["baseData"]


def tag(envelope: Dict[str, Any], name: str) -> Optional[str]:
    return envelope["tags"].get(name)
