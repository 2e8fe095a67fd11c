"""The shared queue: arq on Redis. The API enqueues; ``factdesk worker`` processes
(any number, on any machines pointing at the same Redis and database) run the jobs.

Why arq: it is asyncio-native like the pipeline (no thread or process pool around an
event loop), keeps a job in the queue until a worker has finished it (a worker killed
mid-job leaves only an expiring in-progress key, then another worker runs it), de-
duplicates jobs by id, and needs nothing but Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from .. import webhooks
from ..settings import Settings
from .work import WorkContext, process_item

log = logging.getLogger("factdesk.jobs")

ITEM_JOB = "analyze_item"
WEBHOOK_JOB = "deliver_webhook"
JOB_MARGIN_S = 10.0


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's connection settings from ``FACTDESK_REDIS_URL``."""
    assert settings.redis_url, "FACTDESK_REDIS_URL is not set"
    return RedisSettings.from_dsn(settings.redis_url)


class ArqQueue:
    """Enqueues batch items and webhook deliveries as arq jobs."""

    def __init__(self, pool: ArqRedis, settings: Settings, owns_pool: bool = True) -> None:
        self.pool = pool
        self.queue_name = settings.queue_name
        self.owns_pool = owns_pool

    @classmethod
    async def connect(cls, settings: Settings) -> ArqQueue:
        """Connect to Redis (fails fast when it does not answer)."""
        pool = await create_pool(redis_settings(settings), default_queue_name=settings.queue_name)
        return cls(pool, settings)

    async def enqueue_items(self, item_ids: Sequence[str]) -> None:
        """One job per item, with the item id as job id (a repeat enqueue is a no-op)."""
        for item_id in item_ids:
            await self.pool.enqueue_job(
                ITEM_JOB, item_id, _job_id=f"item:{item_id}", _queue_name=self.queue_name
            )

    async def enqueue_webhook(self, delivery_id: str) -> None:
        """One job per delivery; the job itself retries with backoff."""
        await self.pool.enqueue_job(
            WEBHOOK_JOB, delivery_id, _job_id=f"webhook:{delivery_id}", _queue_name=self.queue_name
        )

    async def close(self) -> None:
        """Close the Redis connection (when this queue opened it)."""
        if self.owns_pool:
            await self.pool.aclose()


async def _analyze_item(ctx: dict[str, Any], item_id: str) -> str:
    work: WorkContext = ctx["factdesk"]
    return await process_item(work, item_id)


async def _deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    work: WorkContext = ctx["factdesk"]
    return await webhooks.deliver(work.store, work.settings, delivery_id)


def build_worker(settings: Settings, concurrency: int | None = None, burst: bool = False) -> Worker:
    """An arq worker for FactDesk's jobs, with its own store, model client and prompt."""
    from ..llm import LiteLLMClient
    from ..prompts import load_prompt
    from ..storage import Store

    name = f"{socket.gethostname()}:{os.getpid()}"

    async def startup(ctx: dict[str, Any]) -> None:
        from ..llm import _litellm

        store = await asyncio.to_thread(Store.open, settings)
        # Importing litellm takes seconds: paid before the first job, not inside its timeout.
        await asyncio.to_thread(_litellm)
        ctx["factdesk"] = WorkContext(
            store=store,
            settings=settings,
            llm=LiteLLMClient(settings),
            prompt=load_prompt(settings.prompts_dir, "analyze", settings.prompt_version),
            queue=ArqQueue(ctx["redis"], settings, owns_pool=False),
            name=name,
        )
        log.info("worker %s on queue %s", name, settings.queue_name)

    async def shutdown(ctx: dict[str, Any]) -> None:
        work: WorkContext | None = ctx.get("factdesk")
        if work is not None:
            work.store.close()

    tries = settings.job_max_tries + 1  # the item's own run count decides; this is a backstop
    return Worker(
        functions=[
            func(_analyze_item, name=ITEM_JOB, max_tries=tries),
            func(_deliver_webhook, name=WEBHOOK_JOB, max_tries=3),
        ],
        redis_settings=redis_settings(settings),
        queue_name=settings.queue_name,
        max_jobs=concurrency or settings.worker_concurrency,
        # The item's own timeout (FACTDESK_JOB_TIMEOUT_S) ends the analysis and records
        # it; this margin leaves time to store that before arq would cancel the job.
        job_timeout=settings.job_timeout_s + JOB_MARGIN_S,
        keep_result=3600,
        poll_delay=0.2,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        handle_signals=True,
    )
