"""Batch jobs: submit many articles at once (JSON or a JSONL upload), follow them,
stream their results as JSONL, cancel them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from .. import archive, errors
from ..jobs.work import WorkContext, batch_finished, batch_view, problem_of
from ..schemas import AnalysisRequest
from ..security import inspect_json
from ..settings import Settings
from ..storage import Store
from ..storage.models import BatchItem
from ..webhooks import check_callback_url
from . import PROBLEMS, caller, ensure_started, get_queue, get_store
from .analyses import list_deliveries

router = APIRouter(tags=["batches"], responses=PROBLEMS, dependencies=[Depends(ensure_started)])

#: Content types read as one JSON analysis request per line.
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")

_BATCH_BODY = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "The same key with the same body returns the batch created first; "
            "with another body, 409.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["items"],
                    "additionalProperties": False,
                    "properties": {
                        "items": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"$ref": "#/components/schemas/AnalysisRequest"},
                        },
                        "callback_url": {"type": "string", "maxLength": 2048},
                    },
                }
            },
            "application/x-ndjson": {
                "schema": {"type": "string", "description": "One AnalysisRequest per line."}
            },
        },
    },
}

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "content": {"application/problem+json": {}},
        "description": "No such batch for this API key (`not-found`).",
    }
}


def _parse_jsonl(raw: bytes) -> list[Any]:
    items: list[Any] = []
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        problem = inspect_json(line)
        if problem is not None:
            raise errors.InvalidJSON(f"line {n}: {problem.detail}")
        items.append(json.loads(line))
    return items


def _parse_json(raw: bytes) -> tuple[list[Any], str | None]:
    value = json.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    if not isinstance(value, dict) or "items" not in value:
        raise errors.InvalidRequest('Send {"items": [<analysis request>, ...], "callback_url"?}.')
    extra = set(value) - {"items", "callback_url"}
    if extra:
        raise errors.InvalidRequest(f"Unknown field(s): {', '.join(sorted(extra))}.")
    items, callback = value["items"], value.get("callback_url")
    if not isinstance(items, list):
        raise errors.InvalidRequest("`items` must be a list of analysis requests.")
    if callback is not None and (not isinstance(callback, str) or len(callback) > 2048):
        raise errors.InvalidRequest("`callback_url` must be a URL string (at most 2048).")
    return items, callback


def _validate_item(raw: Any, settings: Settings) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The item as it will be stored, and its problem when it cannot run."""
    stored = raw if isinstance(raw, dict) else {"value": raw}
    try:
        request = AnalysisRequest.model_validate(raw)
        if request.callback_url:
            raise errors.InvalidRequest("callback_url belongs on the batch, not on its items.")
        archive.check_request(request, settings)
    except (ValidationError, errors.FactDeskError) as exc:
        return stored, problem_of(exc)
    return request.model_dump(mode="json"), None


@router.post(
    "/v1/batches",
    status_code=202,
    openapi_extra=_BATCH_BODY,
    responses={
        413: {"description": "More items than FACTDESK_BATCH_MAX_ITEMS (`batch-too-large`)."},
        **NOT_FOUND,
    },
    summary="Submit a batch of articles (JSON or JSONL)",
)
async def create_batch(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    raw = await request.body()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in JSONL_TYPES:
        items: list[Any] = _parse_jsonl(raw)
        callback = request.query_params.get("callback_url")
    else:
        items, callback = _parse_json(raw)
    if not items:
        raise errors.InvalidRequest("The batch has no items.")
    if len(items) > settings.batch_max_items:
        raise errors.BatchTooLarge(
            f"The batch has {len(items):,} items; the limit is {settings.batch_max_items:,} "
            "(FACTDESK_BATCH_MAX_ITEMS). Split it into several batches."
        )
    if callback:
        await asyncio.to_thread(check_callback_url, callback, settings.webhook_allow_private)
    checked = [_validate_item(item, settings) for item in items]
    store = get_store(request)
    owner = caller(request)
    key = request.headers.get("idempotency-key")
    if key is not None:
        if not 1 <= len(key) <= 255:
            raise errors.InvalidRequest("Idempotency-Key must be 1 to 255 characters.")
        # Batch keys live beside analysis keys; the prefix keeps the two apart.
        key = "batch:" + key
        digest = hashlib.sha256(raw).hexdigest()
        earlier = await asyncio.to_thread(store.reserve_key, owner, key, digest)
        if earlier is not None:
            view = await asyncio.to_thread(_view, store, earlier, owner)
            return JSONResponse(
                view,
                status_code=202,
                headers={"Location": f"/v1/batches/{earlier}", "Idempotent-Replayed": "true"},
            )
    try:
        batch_id, to_run = await asyncio.to_thread(store.create_batch, owner, checked, callback)
    except BaseException:
        if key is not None:
            await asyncio.to_thread(store.release_key, owner, key)
        raise
    if key is not None:
        await asyncio.to_thread(store.finish_key, owner, key, batch_id)
    await get_queue(request).enqueue_items(to_run)
    if not to_run:
        await _finish(request, batch_id, owner)
    view = await asyncio.to_thread(_view, store, batch_id, owner)
    return JSONResponse(view, status_code=202, headers={"Location": f"/v1/batches/{batch_id}"})


async def _finish(request: Request, batch_id: str, owner: str) -> None:
    ctx = WorkContext(
        get_store(request),
        request.app.state.settings,
        request.app.state.llm,
        request.app.state.prompt,
        get_queue(request),
        "api",
    )
    await batch_finished(ctx, batch_id, owner)


def _view(store: Store, batch_id: str, owner: str, with_items: bool = True) -> dict[str, Any]:
    batch = store.get_batch(batch_id, owner)
    if batch is None:
        raise errors.NotFound(f"No batch {batch_id[:60]!r}.")
    return batch_view(store, batch, with_items)


@router.get("/v1/batches/{batch_id}", responses=NOT_FOUND, summary="Status of a batch")
async def get_batch(batch_id: str, request: Request, items: bool = True) -> dict[str, Any]:
    return await asyncio.to_thread(_view, get_store(request), batch_id, caller(request), items)


@router.post(
    "/v1/batches/{batch_id}/cancel",
    responses=NOT_FOUND,
    summary="Cancel a batch (items not started will not run)",
    description="Send an empty JSON object (`{}`) as the body.",
)
async def cancel_batch(batch_id: str, request: Request) -> dict[str, Any]:
    store, owner = get_store(request), caller(request)
    batch = await asyncio.to_thread(store.cancel_batch, batch_id, owner)
    if batch is None:
        raise errors.NotFound(f"No batch {batch_id[:60]!r}.")
    await _finish(request, batch_id, owner)
    return await asyncio.to_thread(_view, store, batch_id, owner)


def _result_lines(store: Store, items: list[BatchItem]) -> bytes:
    responses = store.analyses_by_id([i.analysis_id for i in items if i.analysis_id])
    out: list[bytes] = []
    for item in items:
        response = responses.get(item.analysis_id or "")
        if response is not None:
            response = {**response, "id": item.analysis_id}
        line = {
            "index": item.idx,
            "item_id": item.id,
            "status": "completed" if item.status == "done" else item.status,
            "analysis_id": item.analysis_id,
            "response": response,
            "problem": item.problem,
        }
        out.append(json.dumps(line, ensure_ascii=False).encode() + b"\n")
    return b"".join(out)


@router.get(
    "/v1/batches/{batch_id}/results",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "One line per item."},
        **NOT_FOUND,
    },
    summary="Results of a batch, one JSON line per item in submission order",
)
async def batch_results(batch_id: str, request: Request) -> StreamingResponse:
    store, owner = get_store(request), caller(request)
    batch = await asyncio.to_thread(store.get_batch, batch_id, owner)
    if batch is None:
        raise errors.NotFound(f"No batch {batch_id[:60]!r}.")
    items = await asyncio.to_thread(store.batch_items, batch.id)

    async def stream() -> AsyncIterator[bytes]:
        # 50 analyses at a time: a 10,000-item batch never sits in memory whole.
        for start in range(0, len(items), 50):
            yield await asyncio.to_thread(_result_lines, store, items[start : start + 50])

    return StreamingResponse(stream(), media_type="application/x-ndjson")


@router.get(
    "/v1/batches/{batch_id}/deliveries",
    responses=NOT_FOUND,
    summary="Webhook deliveries of a batch, with every attempt",
    tags=["webhooks"],
)
async def batch_deliveries(batch_id: str, request: Request) -> dict[str, Any]:
    store, owner = get_store(request), caller(request)
    if await asyncio.to_thread(store.get_batch, batch_id, owner) is None:
        raise errors.NotFound(f"No batch {batch_id[:60]!r}.")
    return await list_deliveries(batch_id, request)
