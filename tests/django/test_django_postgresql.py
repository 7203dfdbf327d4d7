"""ORM queries against a real PostgreSQL are dependencies of type postgresql whose target names
the server and the database, with either driver Django may use (psycopg 3, psycopg2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ai_core.emulator import Emulator
from django_site import SITE, migrate, site_env
from postgres import postgres, server_bin_dir  # noqa: F401  (fixture used by name)

SERVE = """
import sys
{block}
import django
django.setup()
from django.db import connection
from django.test import Client
assert Client().get("/items/1/").status_code == 200
print("driver", connection.Database.__name__)
"""
# Django uses psycopg 3 when it is installed; hiding it makes Django fall back to psycopg2.
HIDE_PSYCOPG3 = "sys.modules['psycopg'] = None"


@pytest.mark.parametrize("driver, block", [("psycopg", ""), ("psycopg2", HIDE_PSYCOPG3)])
def test_orm_queries_on_postgresql(postgres, tmp_path: Path, driver: str, block: str) -> None:  # noqa: F811
    dbname = "shop_%s" % driver
    subprocess.run([str(server_bin_dir() / "createdb"), "-h", postgres.host, "-p", str(postgres.port),
                    "-U", postgres.user, dbname], check=True, capture_output=True, timeout=60)
    with Emulator(port=0, db=":memory:") as emu:
        env = site_env(tmp_path / "unused.db", emu.connection_string, tmp_path / "storage")
        env["TESTSITE_PG"] = json.dumps({"HOST": postgres.host, "PORT": str(postgres.port), "NAME": dbname,
                                         "USER": postgres.user})
        migrate(env)
        out = subprocess.run([sys.executable, "-c", SERVE.format(block=block)], cwd=SITE, env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "driver %s" % driver in out.stdout
        request = emu.wait_for_items(count=1, timeout=30, type="request")[0]["envelope"]
        deps = [i["envelope"] for i in emu.operation(request["tags"]["ai.operation.id"]) if i["type"] == "dependency"]
    assert any("shop_item" in d["data"]["baseData"]["data"] for d in deps)
    for dep in deps:
        base = dep["data"]["baseData"]
        assert base["type"] == "postgresql"
        assert base["target"] == "%s:%d|%s" % (postgres.host, postgres.port, dbname)
        assert dep["tags"]["ai.operation.name"] == "GET /items/<int:pk>/"
