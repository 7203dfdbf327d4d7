"""Users who authenticate without Django's session cookie are the request's authenticated user
too, whether or not the view reads ``request.user``: a token middleware that sets a lazy
``request.user``, ``RemoteUserMiddleware``, Django REST framework's token authentication.
The query that loads a lazy user is not a dependency of the request. Django's test Client in
a fresh interpreter, telemetry to the emulator over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

from ai_core.emulator import Emulator
from django_site import SITE, migrate, site_env

SETTINGS = {
    "INSTALLED_APPS+": ["rest_framework", "rest_framework.authtoken"],
    "MIDDLEWARE+": ["django.contrib.auth.middleware.RemoteUserMiddleware",
                    "testsite.user_sources.LazyTokenMiddleware"],
    "AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.RemoteUserBackend",
                                "django.contrib.auth.backends.ModelBackend"],
    "ROOT_URLCONF": "testsite.user_sources",
}

REQUESTS = """
import django
django.setup()
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token
from shop.models import Item

Item.objects.get_or_create(pk=1, defaults={"name": "lamp"})
alice = User.objects.filter(username="alice").first() or User.objects.create_user("alice")
token = Token.objects.create(user=alice).key
client = Client()
calls = {
    "lazy-token": client.get("/plain/items/1/?case=lazy-token", HTTP_X_API_TOKEN="alice"),
    "remote-user": Client().get("/plain/items/1/?case=remote-user", REMOTE_USER="alice"),
    "drf-token": client.get("/drf/items/1/?case=drf-token", HTTP_AUTHORIZATION="Token " + token),
    "anonymous": client.get("/plain/items/1/?case=anonymous"),
}
assert {case: r.status_code for case, r in calls.items()} == dict.fromkeys(calls, 200), calls
print(alice.pk)
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_users_authenticated_without_the_session_cookie_are_recorded(emu: Emulator, tmp_path: Path) -> None:
    pytest.importorskip("rest_framework")
    env = site_env(tmp_path / "site.db", emu.connection_string, tmp_path / "storage")
    env["TESTSITE_SETTINGS"] = json.dumps(SETTINGS)
    migrate(env)
    out = subprocess.run([sys.executable, "-c", REQUESTS], cwd=SITE, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    alice = out.stdout.split()[-1]
    found: Dict[str, Any] = {}
    for item in emu.wait_for_items(count=4, timeout=30, type="request"):
        envelope = item["envelope"]
        sql = [i["envelope"]["data"]["baseData"]["data"] for i in emu.operation(envelope["tags"]["ai.operation.id"])
               if i["type"] == "dependency"]
        found[envelope["data"]["baseData"]["url"].split("case=")[1]] = (envelope["tags"], sql)
    users = {case: tags.get("ai.user.authUserId") for case, (tags, _) in found.items()}
    assert users == {"lazy-token": alice, "remote-user": alice, "drf-token": alice, "anonymous": None}
    assert not [q for q in found["lazy-token"][1] if "auth_user" in q]  # loading the user is ours
