"""The shop's background work: the order confirmation a checkout enqueues. Nothing here
mentions telemetry: in the worker, each run is a request named ``shop.tasks.send_order_confirmation``
in the operation of the web request that enqueued it, its ORM query a dependency, its log
record a trace."""

import logging

from celery import shared_task

from shop.models import Product

log = logging.getLogger(__name__)


@shared_task(name="shop.tasks.send_order_confirmation")
def send_order_confirmation(product_id: int, username: str) -> str:
    product = Product.objects.get(pk=product_id)
    log.info("order confirmation for %s sent to %s", product.name, username)
    return "sent"
