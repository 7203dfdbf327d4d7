"""The shop's pages (blueprint ``shop``) and JSON API (blueprint ``api``, under ``/api``).
Nothing here mentions telemetry: flask_ai names each request by its URL rule, the queries and
the ``requests`` call to inventory become dependencies, an uncaught exception an exception
item, and log records from INFO up traces."""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template
from flask_login import current_user, login_required

from flask_shop import db

log = logging.getLogger(__name__)
bp = Blueprint("shop", __name__)
api = Blueprint("api", __name__)


@bp.get("/")
def products() -> Any:
    rows = db.query("SELECT id, name, price, stock FROM products ORDER BY id")
    log.info("listed %d products", len(rows))
    return render_template("products.html", products=rows)


@bp.get("/products/<int:product_id>")
def product(product_id: int) -> Any:
    row = db.query_one("SELECT id, name, price, stock FROM products WHERE id = ?", (product_id,))
    if row is None:
        abort(404)  # an answer, not an exception
    if row["stock"] < 5:
        log.warning("low stock: %s has %d left", row["name"], row["stock"])
    return render_template("product.html", product=row)


@bp.get("/account")
@login_required  # anonymous: a redirect to the sign-in form
def account() -> Any:
    return render_template("account.html", user=current_user)


@bp.get("/health")
def health() -> Any:
    return jsonify(status="ok")  # excluded (endpoint "shop.health"): no telemetry at all


@bp.get("/fail")
def fail() -> Any:
    raise RuntimeError("the shop's /fail page always fails (an uncaught exception: a 500)")


@api.get("/stock/<int:product_id>")
def stock(product_id: int) -> Any:
    """Stock of one product: from the inventory API when ``INVENTORY_URL`` is set (an HTTP
    dependency in the same distributed trace), else, or when it fails, from the database."""
    row = db.query_one("SELECT id, name, stock FROM products WHERE id = ?", (product_id,))
    if row is None:
        return jsonify(error="no such product"), 404
    answer = {"id": row["id"], "name": row["name"], "stock": row["stock"], "source": "database"}
    inventory = current_app.config["INVENTORY_URL"]
    if inventory:
        try:
            reply = requests.get("%s/api/products/%d" % (inventory.rstrip("/"), product_id), timeout=5)
            reply.raise_for_status()
            answer.update(stock=int(reply.json()["stock"]), source="inventory")
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("inventory did not answer for product %d (%s); using the shop's own count", product_id, exc)
    return jsonify(answer)
