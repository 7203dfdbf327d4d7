"""A small Celery app as a Flask or FastAPI shop lays it out: the tasks module that the web app
and the worker both import, with the one documented call (README, "Celery").

Set by the tests through the environment: SHOP_BROKER_URL (the throwaway Redis), SHOP_CACHE_URL
(the app's own Redis, for its Redis dependencies), SHOP_AI (JSON of options for
instrument_celery, the connection string among them), SHOP_PG_DSN (asyncpg task), SHOP_BEAT (a
beat schedule: send_receipt every second), SHOP_RESULT_BACKEND (results stored there).
"""

from __future__ import annotations

import json
import logging
import os

import redis
from celery import Celery
from celery.utils.log import get_task_logger

from ai_core.tasks import instrument_celery

app = Celery("celery_shop", broker=os.environ["SHOP_BROKER_URL"])
app.conf.update(
    result_backend=os.environ.get("SHOP_RESULT_BACKEND") or None,
    task_ignore_result=not os.environ.get("SHOP_RESULT_BACKEND"),
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
    task_acks_late=False,
)
if os.environ.get("SHOP_BEAT"):  # the beat tests: one receipt a second
    app.conf.beat_schedule = {"receipt": {"task": "shop.tasks.send_receipt", "schedule": 1.0, "args": (99,)}}
OPTIONS = json.loads(os.environ.get("SHOP_AI") or "{}")
instrument_celery(app, **OPTIONS)

log = get_task_logger(__name__)
plain_log = logging.getLogger("celery_shop.receipts")


def _cache() -> "redis.Redis":
    return redis.Redis.from_url(os.environ["SHOP_CACHE_URL"])


@app.task(name="shop.tasks.send_receipt")
def send_receipt(order_id: int) -> str:
    sent = _cache().incr("receipts:sent")  # the app's own Redis: a dependency of this task
    log.warning("receipt for order %s sent (%s so far)", order_id, sent)
    plain_log.error("plain logger inside the task for order %s", order_id)
    return "sent"


@app.task(name="shop.tasks.charge_card")
def charge_card(order_id: int) -> None:
    raise ValueError("card declined for order %s" % order_id)


@app.task(bind=True, name="shop.tasks.sync_stock", max_retries=3)
def sync_stock(self, order_id: int) -> str:
    if self.request.retries < 1:
        raise self.retry(countdown=0, exc=ConnectionError("stock service busy"))
    return "synced"


@app.task(name="shop.tasks.ping")
def ping() -> str:
    _cache().set("ping", "1")
    log.warning("ping from an excluded task")
    return "pong"


@app.task(name="shop.tasks.meet")
def meet(group: str, size: int) -> int:
    """Waits (a minute at most) until ``size`` runs of ``group`` have started: with a pool of
    ``size`` processes, the runs of one group are in different children at the same time."""
    cache = _cache()
    if cache.incr("meet:" + group) < size:
        cache.blpop(["go:" + group], timeout=60)
    else:
        cache.rpush("go:" + group, *["go"] * (size - 1))
    log.warning("meet %s in pid %s", group, os.getpid())
    return os.getpid()


@app.task(name="shop.tasks.query_orders")
def query_orders(order_id: int) -> int:
    import asyncio

    import asyncpg

    async def run() -> int:
        conn = await asyncpg.connect(os.environ["SHOP_PG_DSN"])
        try:
            return await conn.fetchval("SELECT $1::int + 1", order_id)
        finally:
            await conn.close()

    return asyncio.run(run())
