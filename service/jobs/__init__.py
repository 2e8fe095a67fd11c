"""Batch jobs: what a worker does with one batch item, and the queues that carry item
ids to workers.

The database is the record of every batch and item (:mod:`service.storage`); the queue
only carries ids. Two queues implement :class:`JobQueue`:

* :class:`~service.jobs.redis_queue.ArqQueue` (``FACTDESK_REDIS_URL`` set): arq on Redis.
  Any number of ``factdesk worker`` processes on any machines take jobs from it. A job
  stays in the queue until a worker finishes it; a worker that dies mid-item leaves an
  expiring in-progress key, after which another worker runs the item again.
* :class:`~service.jobs.local.LocalQueue` (no Redis): asyncio tasks inside the API
  process, so ``make run`` needs nothing else. On start-up it picks up every item a
  previous run left unfinished.

Either way an item's analysis is stored exactly once: the stored row carries the item
id under a unique constraint, and a second run of an item finds the first one's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class JobQueue(Protocol):
    """Where batch items and webhook deliveries wait for a worker."""

    async def enqueue_items(self, item_ids: Sequence[str]) -> None:
        """Queue each item to be analysed (at least once)."""

    async def enqueue_webhook(self, delivery_id: str) -> None:
        """Queue one webhook delivery (tried with backoff until it succeeds or runs out)."""

    async def close(self) -> None:
        """Stop taking work; release connections."""
