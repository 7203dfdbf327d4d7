"""The pytest plugin as users get it: a test suite of their own, run by ``python -m pytest`` in a
subprocess, uses the ``ai_telemetry`` fixture with no import (the ``pytest11`` entry point of
the installed package). Its settings carry a real connection string (the emulator's) and its
offline storage holds a blob an earlier run left: the run passes, and the emulator receives
nothing and the blob is still there (README, "Testing your telemetry")."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

from ai_core.delivery.storage import LocalStorage
from ai_core.emulator import EMULATOR_IKEY, Emulator
from emulator_fixtures import emulator  # noqa: F401
from subprocess_helpers import ROOT

DJANGO_SITE = ROOT / "tests" / "django" / "testsite"

FLASK_TESTS = '''
import os, logging
from flask import Flask
from flask_ai import ApplicationInsights

app = Flask("shop")
app.config.update(APPLICATION_INSIGHTS_CONNECTION_STRING=os.environ["USER_CS"],
                  APPLICATION_INSIGHTS_STORAGE_DIRECTORY=os.environ["USER_STORAGE"])
ApplicationInsights(app)

@app.get("/items/<int:item_id>")
def item(item_id):
    logging.getLogger("shop").warning("item %s looked up", item_id)
    return {"id": item_id}

@app.get("/fail")
def fail():
    raise RuntimeError("the teapot broke")

def test_a_request_outside_any_capture():
    assert app.test_client().get("/items/1").status_code == 200

def test_route_naming(ai_telemetry):
    assert app.test_client().get("/items/7").status_code == 200
    assert ai_telemetry.requests[0]["data"]["baseData"]["name"] == "GET /items/<int:item_id>"
    assert ai_telemetry.traces[0].operation_id == ai_telemetry.requests[0].operation_id

def test_a_failing_request(ai_telemetry):
    response = app.test_client().get("/fail")
    assert response.status_code == 500
    (request,) = ai_telemetry.requests
    assert (request.result_code, request.success) == ("500", False)
    assert [e.type_name for e in ai_telemetry.exceptions] == ["RuntimeError"]

def test_only_its_own_items(ai_telemetry):
    assert ai_telemetry.all == []
'''

FASTAPI_TESTS = '''
import os
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fastapi_ai import ApplicationInsightsMiddleware

app = FastAPI(title="orders")

@app.get("/orders/{order_id}")
def order(order_id: int):
    return {"id": order_id}

app.add_middleware(ApplicationInsightsMiddleware, connection_string=os.environ["USER_CS"],
                   storage_directory=os.environ["USER_STORAGE"])
client = TestClient(app)

def test_a_request_outside_any_capture():
    assert client.get("/orders/1").status_code == 200

def test_route_naming(ai_telemetry):
    assert client.get("/orders/7").status_code == 200
    (request,) = ai_telemetry.requests
    assert request.name == "GET /orders/{order_id}"
    assert request.result_code == "200"

def test_only_its_own_items(ai_telemetry):
    assert ai_telemetry.requests == []
'''

# As a project without pytest-django does it: settings in the environment, django.setup() in
# conftest.py (pytest-django does the same from its own hook, at the same moment).
DJANGO_CONFTEST = '''
import django
django.setup()
'''

DJANGO_TESTS = '''
from django.test import Client

def test_a_request_outside_any_capture():
    assert Client().get("/orders/").status_code == 200

def test_route_naming(ai_telemetry):
    assert Client().get("/articles/2026/").status_code == 200
    (request,) = ai_telemetry.requests
    assert request.name == "GET /articles/<year>/"

def test_a_failing_request(ai_telemetry):
    assert Client(raise_request_exception=False).get("/private/").status_code == 403
    (request,) = ai_telemetry.requests
    assert request.result_code == "403"
    assert ai_telemetry.exceptions == []
'''


def _user_suite(tmp_path: Path, files: Dict[str, str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    suite = tmp_path / "users_project"
    suite.mkdir()
    for name, text in files.items():
        (suite / name).write_text(textwrap.dedent(text))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "PYTEST_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(suite), str(suite)],
        cwd=str(suite), env=full_env, capture_output=True, text=True, timeout=180,
    )


def _left_behind(store: Path) -> List[str]:
    storage = LocalStorage(str(store))
    envelope = {"name": "Microsoft.ApplicationInsights.Event", "iKey": EMULATOR_IKEY,
                "time": "2026-12-06T00:00:00.000000Z", "tags": {},
                "data": {"baseType": "EventData", "baseData": {"ver": 2, "name": "LeftBehind"}}}
    assert storage.put([envelope]) is not None
    return _blobs(store)


def _blobs(store: Path) -> List[str]:
    return sorted(p.name for p in store.rglob("*") if p.is_file())


@pytest.mark.parametrize("framework", ["flask", "fastapi", "django"])
def test_a_users_suite_uses_ai_telemetry_without_import_and_sends_nothing(
    framework: str, emulator: Emulator, tmp_path: Path  # noqa: F811
) -> None:
    store = tmp_path / "storage"
    blobs = _left_behind(store)
    env = {"USER_CS": emulator.connection_string, "USER_STORAGE": str(store)}
    if framework == "flask":
        files = {"test_shop.py": FLASK_TESTS}
        expected = "4 passed"
    elif framework == "fastapi":
        files = {"test_orders.py": FASTAPI_TESTS}
        expected = "3 passed"
    else:
        files = {"conftest.py": DJANGO_CONFTEST, "test_site.py": DJANGO_TESTS}
        expected = "3 passed"
        env.update(DJANGO_SETTINGS_MODULE="testsite.settings", PYTHONPATH=str(DJANGO_SITE),
                   TESTSITE_CONNECTION_STRING=emulator.connection_string,
                   TESTSITE_AI='{"STORAGE_DIRECTORY": %s}' % repr(str(store)).replace("'", '"'))

    run = _user_suite(tmp_path, files, env)

    assert expected in run.stdout, run.stdout + run.stderr
    assert "appinsights-otel: telemetry is captured in memory, never sent" in run.stdout
    assert emulator.items(limit=100) == []
    assert _blobs(store) == blobs


def test_without_the_plugin_the_suite_sends_as_configured(emulator: Emulator, tmp_path: Path) -> None:  # noqa: F811
    """The control: the same kind of suite with ``-p no:ai_core`` does reach the endpoint, so the
    empty emulator above is the plugin's doing."""
    store = tmp_path / "storage"
    files = {"test_shop.py": FLASK_TESTS.split("def test_route_naming")[0]
             + "\ndef test_flush():\n    assert app.extensions['application_insights'].telemetry.force_flush(20)\n"}
    suite_env = {"USER_CS": emulator.connection_string, "USER_STORAGE": str(store)}
    suite = tmp_path / "users_project"
    suite.mkdir()
    (suite / "test_shop.py").write_text(files["test_shop.py"])
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_", "PYTEST_"))}
    full_env.update(suite_env)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:ai_core", str(suite)],
        cwd=str(suite), env=full_env, capture_output=True, text=True, timeout=180,
    )
    assert "2 passed" in run.stdout, run.stdout + run.stderr
    assert [i["envelope"]["data"]["baseData"]["name"] for i in emulator.items(type="request", limit=100)] == [
        "GET /items/<int:item_id>"
    ]
