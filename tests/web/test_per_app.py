"""Two apps in one process (two Flask apps from one factory, say) share one pipeline, yet each
has its own role name, exclusions and user rule."""

import json

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python

TWO_APPS = """
import json
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from ai_core.web import excluded_request
from ai_core.web.setup import setup_web

shop = setup_web({{"connection_string": {cs!r}, "excluded_routes": ["status"]}}, role_default="shop")
admin = setup_web({{"connection_string": {cs!r}, "role_name": "back-office", "user_id": False}},
                  role_default="admin")
tracer = trace.get_tracer("app")

def serve(web, path, endpoint):
    def run():
        with tracer.start_as_current_span("GET", kind=SpanKind.SERVER, attributes={{
                "http.request.method": "GET", "url.path": path, "url.scheme": "http", "server.address": "x",
                "http.response.status_code": 200}}) as span:
            web.annotate(span, route=path)  # carries the app's role when it has its own
            with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT, attributes={{"db.system": "sqlite"}}):
                pass
    if web.excludes(path, [endpoint]):
        with excluded_request():
            run()
    else:
        run()

serve(shop, "/shop/items", "items")
serve(shop, "/shop/status", "status")     # excluded by the shop app
serve(admin, "/admin/status", "status")   # the admin app does not exclude it
print(json.dumps([shop.telemetry is admin.telemetry, shop.app_role, admin.app_role,
                  shop.user_id(object()), admin.user_id(object())]))
shop.stop()
"""


def test_two_apps_share_a_pipeline_with_their_own_roles_and_exclusions():
    with Emulator(port=0, db=":memory:") as emu:
        out = run_python(TWO_APPS.format(cs=emu.connection_string))
        assert out.returncode == 0, out.stderr
        same, shop_role, admin_role, _, _ = json.loads(out.stdout.splitlines()[-1])
        assert same is True
        assert (shop_role, admin_role) == (None, "back-office")  # the first app named the process
        requests = emu.wait_for_items(count=2, timeout=60, type="request")
        roles = {i["envelope"]["data"]["baseData"]["name"]: i["envelope"]["tags"]["ai.cloud.role"] for i in requests}
        assert roles == {"GET /shop/items": "shop", "GET /admin/status": "back-office"}
        deps = emu.items(type="dependency")
        by_op = {d["envelope"]["tags"]["ai.operation.name"]: d["envelope"]["tags"]["ai.cloud.role"] for d in deps}
        assert by_op == {"GET /shop/items": "shop", "GET /admin/status": "back-office"}
        assert len(deps) == 2  # the excluded request's query was dropped with it
