"""Flask and FastAPI: the tasks module calls ``instrument_celery`` with the web app's options
before the web app sets up (the usual layout): one pipeline, no ``ConfigurationError``, and a
view's ``.delay()`` is an enqueue dependency of its request under the app's role (README,
"Celery"). In-process with the frameworks' test clients; the broker is Celery's in-memory one."""

from __future__ import annotations

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

TASKS = """
from celery import Celery
from ai_core.tasks import instrument_celery

OPTIONS = dict(connection_string={cs!r}, disable_offline_storage=True, role_name="shop",
               excluded_tasks=["shop.tasks.ping"], sampling_ratio=1.0)
celery_app = Celery("shop", broker="memory://")
instrument_celery(celery_app, **OPTIONS)  # imported by the web app before it sets up

@celery_app.task(name="shop.tasks.send_receipt")
def send_receipt(order_id):
    return "sent"

@celery_app.task(name="shop.tasks.ping")
def ping():
    return "pong"
"""

FLASK = TASKS + """
from flask import Flask
from flask_ai import ApplicationInsights
from ai_core.configure import current

app = Flask("shop")
ApplicationInsights(app, **OPTIONS)

@app.post("/checkout/<int:order_id>")
def checkout(order_id):
    send_receipt.delay(order_id)
    ping.delay()
    return "queued", 202

assert app.test_client().post("/checkout/7").status_code == 202
print("flushed", current().force_flush(10))
current().shutdown()
"""

FASTAPI = TASKS + """
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fastapi_ai import ApplicationInsightsMiddleware
from ai_core.configure import current

app = FastAPI(title="shop")
app.add_middleware(ApplicationInsightsMiddleware, **OPTIONS)

@app.post("/checkout/{{order_id}}", status_code=202)
def checkout(order_id: int):
    send_receipt.delay(order_id)
    ping.delay()
    return {{"status": "queued"}}

with TestClient(app) as client:
    assert client.post("/checkout/7").status_code == 202
    print("flushed", current().force_flush(10))
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


@pytest.mark.parametrize("app, request_name", [(FLASK, "POST /checkout/<int:order_id>"),
                                               (FASTAPI, "POST /checkout/{order_id}")], ids=["flask", "fastapi"])
def test_instrument_celery_before_the_web_app_shares_its_pipeline(emu, app, request_name):
    # Not Django: an empty DJANGO_SETTINGS_MODULE keeps Celery's Django fix-up off whatever
    # another test left in the environment.
    out = run_python(app.format(cs=emu.connection_string), env={"DJANGO_SETTINGS_MODULE": ""}, timeout=120)
    assert out.returncode == 0 and "flushed True" in out.stdout, out.stdout + out.stderr
    assert "ConfigurationError" not in out.stderr

    [request] = [i["envelope"] for i in emu.wait_for_items(count=1, timeout=60, type="request")]
    assert request["data"]["baseData"]["name"] == request_name
    deps = [i["envelope"] for i in emu.wait_for_items(count=1, timeout=60, type="dependency")]
    # The excluded task's enqueue sends nothing; the other is a dependency of the request.
    assert [d["data"]["baseData"]["name"] for d in deps] == ["apply_async/shop.tasks.send_receipt"]
    dep = deps[0]
    assert dep["data"]["baseData"]["type"] == "Queue Message"
    assert dep["tags"]["ai.operation.parentId"] == request["data"]["baseData"]["id"]
    assert dep["tags"]["ai.cloud.role"] == request["tags"]["ai.cloud.role"] == "shop"


WITHOUT_CELERY = """
import ai_core
from celery import Celery
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from ai_core.configure import current
from ai_core.tasks import instrument_celery

OPTIONS = dict(connection_string={cs!r}, disable_offline_storage=True, instrumentations=["redis"])
celery_app = Celery("shop", broker="memory://")
instrument_celery(celery_app, **OPTIONS)
tel = ai_core.configure(**OPTIONS)

@celery_app.task(name="shop.tasks.send_receipt")
def send_receipt(order_id):
    return "sent"

with trace.get_tracer("shop").start_as_current_span("POST /checkout", kind=SpanKind.SERVER):
    send_receipt.delay(7)
print("flushed", tel.force_flush(10))
tel.shutdown()
"""


def test_celery_left_out_of_instrumentations_records_no_task_telemetry(emu):
    out = run_python(WITHOUT_CELERY.format(cs=emu.connection_string), env={"DJANGO_SETTINGS_MODULE": ""}, timeout=120)
    assert out.returncode == 0 and "flushed True" in out.stdout, out.stdout + out.stderr
    [request] = [i["envelope"] for i in emu.wait_for_items(count=1, timeout=60, type="request")]
    assert request["data"]["baseData"]["name"] == "POST /checkout"
    assert emu.items(type="dependency") == []  # no enqueue dependency
