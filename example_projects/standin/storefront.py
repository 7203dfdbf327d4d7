"""The shop's web front end, role "storefront": HTML pages that call the inventory API.

Stand-in until the framework adapters bring real example apps. Run it by hand against the
emulator and a running inventory (see ``inventory.py``)::

    python example_projects/standin/storefront.py --port 8000 --inventory-url http://127.0.0.1:8001

Pages:
    GET  /health               readiness probe, excluded from telemetry
    GET  /                     product list (calls inventory GET /api/products)
    GET  /products/<id>        one product (calls inventory GET /api/products/<id>)
    GET  /login, POST /login   form field ``user``; sets a cookie, the span's ``enduser.id``
                               (the request's authenticated user) and a UserLoggedIn event
    GET  /account              needs the login cookie
    POST /checkout             fails: inventory answers 500, so this answers 502
    GET  /reports/stock        slow: waits for inventory's slow stock report
"""

from __future__ import annotations

import html
import logging
import os
import sys
from http.cookies import SimpleCookie
from typing import Optional
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import ai_core  # noqa: E402
import requests  # noqa: E402
from opentelemetry import metrics, trace  # noqa: E402

ROLE = "storefront"
COOKIE = "shop_user"


def _extra(parser) -> None:
    parser.add_argument("--inventory-url", default=os.environ.get("INVENTORY_URL", "http://127.0.0.1:8001"),
                        help="base URL of the inventory API (default $INVENTORY_URL or http://127.0.0.1:8001)")


args = _common.parse_args(__doc__.splitlines()[0], default_port=8000, extra=_extra)
telemetry = _common.configure(ROLE, args)
INVENTORY = args.inventory_url.rstrip("/")

log = logging.getLogger("storefront.views")
checkouts = metrics.get_meter("storefront").create_counter("shop.checkouts", description="Checkout attempts")
http = requests.Session()  # instrumented by ai_core.configure(): each call is a dependency


def page(title: str, body: str, user: Optional[str], status: str = "200 OK", headers=()) -> _common.Response:
    who = ("signed in as <b>%s</b>" % html.escape(user)) if user else '<a href="/login">sign in</a>'
    text = ("<!doctype html><title>%s - Tea shop</title><h1>%s</h1><p>%s | <a href=\"/\">products</a> | "
            "<a href=\"/account\">account</a> | <a href=\"/reports/stock\">stock report</a></p>%s"
            % (html.escape(title), html.escape(title), who, body))
    return _common.reply(status, text, content_type="text/html", headers=headers)


def current_user(environ: dict) -> Optional[str]:
    cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    return cookie[COOKIE].value if COOKIE in cookie else None


def handle(environ: dict) -> _common.Response:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    if path == "/health":
        return _common.reply("200 OK", {"status": "ok"})
    user = current_user(environ)
    if user:
        # The authenticated user of this request: becomes ai.user.authUserId on the request
        # and on everything recorded while it runs.
        trace.get_current_span().set_attribute("enduser.id", user)

    if method == "GET" and path == "/":
        products = http.get(INVENTORY + "/api/products", timeout=10).json()
        items = "".join('<li><a href="/products/%d">%s</a> %.2f EUR</li>'
                        % (p["id"], html.escape(p["name"]), p["price"]) for p in products)
        return page("Products", "<ul>%s</ul>" % items, user)

    if method == "GET" and path.startswith("/products/"):
        reply = http.get(INVENTORY + "/api/products/" + path.rsplit("/", 1)[1], timeout=10)
        if reply.status_code == 404:
            return page("Not found", "<p>No such product.</p>", user, status="404 Not Found")
        reply.raise_for_status()
        p = reply.json()
        form = ('<form method="post" action="/checkout"><input type="hidden" name="sku" value="%s">'
                '<button>Buy now</button></form>' % html.escape(p["sku"]))
        return page(p["name"], "<p>%.2f EUR, %d in stock</p>%s" % (p["price"], p["stock"], form), user)

    if path == "/login":
        if method == "POST":
            name = (parse_qs(_common.read_body(environ).decode()).get("user") or [""])[0].strip()
            if not name:
                log.warning("login without a user name")
                return page("Sign in", "<p>Enter a name.</p>", None, status="400 Bad Request")
            trace.get_current_span().set_attribute("enduser.id", name)
            log.info("user %s signed in", name)
            ai_core.track_event("UserLoggedIn", properties={"method": "password"}, measurements={"attempts": 1})
            return page("Welcome", "<p>Hello %s.</p>" % html.escape(name), name,
                        headers=[("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Lax" % (COOKIE, name))])
        form = '<form method="post"><input name="user" placeholder="name"><button>Sign in</button></form>'
        return page("Sign in", form, user)

    if method == "GET" and path == "/account":
        if not user:
            return page("Sign in first", '<p><a href="/login">Sign in</a> to see your account.</p>', None,
                        status="401 Unauthorized")
        return page("Your account", "<p>No orders yet.</p>", user)

    if method == "POST" and path == "/checkout":
        sku = (parse_qs(_common.read_body(environ).decode()).get("sku") or ["TEA-01"])[0]
        try:
            reply = http.post(INVENTORY + "/api/orders", json={"sku": sku, "qty": 1, "user": user}, timeout=10)
            reply.raise_for_status()
        except requests.RequestException:
            checkouts.add(1, {"outcome": "failed"})
            log.exception("checkout of %s failed", sku)
            return page("Sorry", "<p>We could not place your order.</p>", user, status="502 Bad Gateway")
        checkouts.add(1, {"outcome": "placed"})
        return page("Thank you", "<p>Order placed.</p>", user)

    if method == "GET" and path == "/reports/stock":
        report = http.get(INVENTORY + "/api/reports/stock", timeout=30).json()
        return page("Stock report", "<p>%d units worth %.2f EUR in %d lines.</p>"
                    % (report["units"], report["value"], report["lines"]), user)

    return page("Not found", "<p>Nothing here.</p>", user, status="404 Not Found")


if __name__ == "__main__":
    _common.serve(_common.wsgi(handle), args, telemetry, ROLE)
