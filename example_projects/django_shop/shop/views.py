"""The shop's views. Nothing here mentions telemetry: django_ai turns each request into a
request item, each ORM query and ``requests`` call into a dependency, an uncaught exception
into an exception item, and log records from INFO up into traces."""

import logging

import requests
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from shop.models import Product
from shop.tasks import send_order_confirmation

log = logging.getLogger(__name__)


def product_list(request: HttpRequest) -> HttpResponse:
    products = list(Product.objects.all())
    log.info("listed %d products", len(products))
    return render(request, "shop/product_list.html", {"products": products})


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)  # unknown: a 404 answer, not an exception
    if product.low_on_stock:
        log.warning("low stock: %s has %d left", product.name, product.stock)
    return render(request, "shop/product_detail.html", {"product": product})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/account.html")


def api_stock(request: HttpRequest, pk: int) -> JsonResponse:
    """Stock of one product: from the inventory API when ``INVENTORY_URL`` is set (an HTTP
    dependency in the same distributed trace), else, or when it fails, from the database."""
    try:
        product = Product.objects.get(pk=pk)
    except Product.DoesNotExist:
        return JsonResponse({"error": "no such product"}, status=404)
    answer = {"id": product.pk, "name": product.name, "stock": product.stock, "source": "database"}
    if settings.INVENTORY_URL:
        url = "%s/api/products/%d" % (settings.INVENTORY_URL.rstrip("/"), pk)
        try:
            reply = requests.get(url, timeout=5)
            reply.raise_for_status()
            answer.update(stock=int(reply.json()["stock"]), source="inventory")
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            log.warning("inventory did not answer for product %d (%s); using the shop's own count", pk, exc)
    return JsonResponse(answer)


@login_required
@require_POST
def order(request: HttpRequest, pk: int) -> JsonResponse:
    """Order one product: the confirmation goes out in the background (a Celery task)."""
    product = get_object_or_404(Product, pk=pk)
    send_order_confirmation.delay(product.pk, request.user.get_username())
    log.info("order of %s placed by %s", product.name, request.user.get_username())
    return JsonResponse({"status": "ordered", "product": product.pk}, status=202)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the shop's /fail/ page always fails (an uncaught exception: a 500)")
