"""One batch item, start to finish: claim it, analyse it (or reuse a cached result),
store it under its item id, and finish the batch when it was the last."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .. import archive, errors
from ..llm import LLM
from ..prompts import PromptTemplate
from ..schemas import AnalysisRequest
from ..settings import Settings
from ..storage import Store
from ..storage.models import Batch
from . import JobQueue

log = logging.getLogger("factdesk.jobs")


@dataclass
class WorkContext:
    """Everything a worker needs, built once per worker process."""

    store: Store
    settings: Settings
    llm: LLM
    prompt: PromptTemplate
    queue: JobQueue
    name: str


def problem_of(exc: BaseException) -> dict[str, Any]:
    """The problem+json body an item failure is recorded with."""
    if isinstance(exc, errors.FactDeskError):
        body: dict[str, Any] = {
            "type": exc.type_uri,
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
        }
        if isinstance(exc, errors.ModelError) and exc.record.attempts:
            body["attempts"] = exc.record.attempts
        return body
    if isinstance(exc, TimeoutError):
        return {
            "type": errors.PROBLEM_BASE + "item-timeout",
            "title": "The item took too long",
            "status": 504,
            "detail": "Analysing this item took longer than FACTDESK_JOB_TIMEOUT_S.",
        }
    if isinstance(exc, ValidationError):
        return {
            "type": errors.PROBLEM_BASE + errors.InvalidRequest.slug,
            "title": errors.InvalidRequest.title,
            "status": 422,
            "detail": "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(item)'}: {e['msg']}"
                for e in exc.errors()[:5]
            ),
        }
    return {
        "type": errors.PROBLEM_BASE + "internal-error",
        "title": "Internal error",
        "status": 500,
        "detail": f"The item failed unexpectedly ({type(exc).__name__}); the error is logged.",
    }


def batch_view(store: Store, batch: Batch, with_items: bool = True) -> dict[str, Any]:
    """The public JSON of a batch: status, counts, and (optionally) each item's status."""
    counts = store.batch_counts(batch.id)
    view: dict[str, Any] = {
        "id": batch.id,
        "object": "batch",
        "status": batch.status,
        "created_at": batch.created_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "callback_url": batch.callback_url,
        "counts": {
            "total": batch.total,
            "queued": counts.queued,
            "running": counts.running,
            "completed": counts.done,
            "failed": counts.failed,
            "cancelled": counts.cancelled,
        },
    }
    if with_items:
        view["items"] = [
            {
                "index": item.idx,
                "id": item.id,
                "status": "completed" if item.status == "done" else item.status,
                "attempts": item.attempts,
                "analysis_id": item.analysis_id,
                "problem": item.problem,
            }
            for item in store.batch_items(batch.id)
        ]
    return view


async def batch_finished(ctx: WorkContext, batch_id: str, owner: str) -> None:
    """Re-derive the batch's status; when this call finished it and the batch has a
    callback URL, queue the ``batch.<status>`` webhook (exactly once per batch)."""
    final = await asyncio.to_thread(ctx.store.refresh_batch, batch_id)
    if final is None:
        return
    batch = await asyncio.to_thread(ctx.store.get_batch, batch_id, owner)
    if batch is None or not batch.callback_url:
        return
    view = await asyncio.to_thread(batch_view, ctx.store, batch, False)
    delivery = await asyncio.to_thread(
        ctx.store.add_delivery, owner, f"batch.{final}", batch_id, batch.callback_url, view
    )
    await ctx.queue.enqueue_webhook(delivery)


async def process_item(ctx: WorkContext, item_id: str) -> str:
    """Run one item. Never raises for the item's own failure (that is recorded on the
    item with its problem type); returns the item's resulting state."""
    claimed = await asyncio.to_thread(
        ctx.store.claim_item, item_id, ctx.name, ctx.settings.job_max_tries
    )
    if claimed is None:
        return "skipped"
    raw, owner, attempt = claimed
    batch_id = await asyncio.to_thread(_batch_of, ctx.store, item_id)
    try:
        request = AnalysisRequest.model_validate(raw)
        async with asyncio.timeout(ctx.settings.job_timeout_s):
            response, key = await archive.produce(
                request, ctx.settings, ctx.llm, ctx.prompt, ctx.store, owner
            )
        assert response.id is not None
        await asyncio.to_thread(
            ctx.store.complete_item,
            item_id,
            owner,
            request.model_dump(mode="json"),
            response.model_dump(mode="json"),
            key,
            response.id,
        )
        state = "done"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if not isinstance(exc, errors.FactDeskError | ValidationError | TimeoutError):
            log.exception("batch item %s failed unexpectedly", item_id)
        await asyncio.to_thread(ctx.store.fail_item, item_id, problem_of(exc))
        state = "failed"
    log.info("item %s (run %d) %s on %s", item_id, attempt, state, ctx.name)
    await batch_finished(ctx, batch_id, owner)
    return state


def _batch_of(store: Store, item_id: str) -> str:
    from ..storage.models import BatchItem

    with store.session() as s:
        item = s.get(BatchItem, item_id)
        assert item is not None
        return item.batch_id
