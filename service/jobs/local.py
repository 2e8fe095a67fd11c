"""The in-process queue: batch items and webhooks run as asyncio tasks inside the API
process (no Redis needed). Unfinished items and webhook deliveries of an earlier run are
picked up at start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from .. import webhooks
from .work import WorkContext, process_item

log = logging.getLogger("factdesk.jobs")


class LocalQueue:
    """``concurrency`` asyncio workers taking item ids from an in-memory queue."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._items: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._side: set[asyncio.Task[object]] = set()
        self._ctx: WorkContext | None = None

    async def start(self, make_ctx: Callable[[LocalQueue], WorkContext]) -> None:
        """Start the workers and re-queue every item left unfinished."""
        self._ctx = make_ctx(self)
        self._tasks = [
            asyncio.create_task(self._work(), name=f"factdesk-worker-{i}")
            for i in range(self.concurrency)
        ]
        pending = await asyncio.to_thread(self._ctx.store.pending_items)
        if pending:
            log.info("resuming %d unfinished batch items", len(pending))
        await self.enqueue_items(pending)
        for delivery_id in await asyncio.to_thread(self._ctx.store.pending_deliveries):
            await self.enqueue_webhook(delivery_id)

    async def _work(self) -> None:
        assert self._ctx is not None
        while True:
            item_id = await self._items.get()
            try:
                await process_item(self._ctx, item_id)
            except Exception:
                log.exception("batch item %s could not be processed", item_id)
            finally:
                self._items.task_done()

    async def enqueue_items(self, item_ids: Sequence[str]) -> None:
        """Queue the items for this process's workers."""
        for item_id in item_ids:
            self._items.put_nowait(item_id)

    async def enqueue_webhook(self, delivery_id: str) -> None:
        """Deliver in a background task of this process."""
        assert self._ctx is not None
        task = asyncio.create_task(
            webhooks.deliver(self._ctx.store, self._ctx.settings, delivery_id)
        )
        self._side.add(task)
        task.add_done_callback(self._side.discard)

    async def join(self) -> None:
        """Wait until every queued item has been processed."""
        await self._items.join()

    async def close(self) -> None:
        """Cancel the workers; an item cut off stays unfinished and resumes next start."""
        for task in [*self._tasks, *self._side]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._side, return_exceptions=True)
        self._tasks.clear()
