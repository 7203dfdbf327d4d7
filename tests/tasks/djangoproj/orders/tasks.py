import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task
def send_confirmation(order_id: int) -> str:
    log.warning("order %s confirmed", order_id)
    return "sent"


@shared_task
def ping() -> str:
    log.warning("ping from an excluded task")
    return "pong"
