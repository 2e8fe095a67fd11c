"""Stored analyses: create (with Idempotency-Key and the result cache), read, list with
cursor paging, delete, editors' marks on claims, and the webhook signing secret."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import archive, errors
from ..llm import LLM
from ..prompts import PromptTemplate
from ..schemas import AnalysisRequest, AnalysisResponse, ClaimMark
from ..settings import Settings
from ..storage import Store, StoredAnalysis
from ..storage.models import ClaimMark as MarkRow
from ..webhooks import check_callback_url
from . import PROBLEMS, caller, ensure_started, get_queue, get_store

router = APIRouter(tags=["analyses"], responses=PROBLEMS, dependencies=[Depends(ensure_started)])


def mark_out(row: MarkRow) -> ClaimMark:
    """The public form of a stored mark."""
    return ClaimMark(
        claim_id=row.claim_id,
        status=row.status,
        note=row.note,
        editor=row.editor,
        key_id=row.key_id,
        marked_at=row.marked_at,
    )


def full_response(store: Store, stored: StoredAnalysis) -> dict[str, Any]:
    """The stored response with its ``id`` and the current marks."""
    body = dict(stored.response)
    body["id"] = stored.id
    body["marks"] = [mark_out(m).model_dump(mode="json") for m in store.marks(stored.id)]
    return body


async def create_stored_analysis(
    body: AnalysisRequest,
    request: Request,
    response: Response,
    settings: Settings,
    llm: LLM,
    prompt: PromptTemplate,
    idempotency_key: str | None,
    run: archive.Runner | None = None,
) -> AnalysisResponse:
    """``POST /v1/analyses``: analyse (or reuse a cached result), store, answer with the
    stored analysis and its ``id``. With an ``Idempotency-Key`` a repeat of the same body
    gets the stored result without a model call; another body gets 409. With a
    ``callback_url`` the stored analysis is also POSTed there, signed."""
    await ensure_started(request)
    store = get_store(request)
    owner = caller(request)
    if body.callback_url:
        await asyncio.to_thread(
            check_callback_url, body.callback_url, settings.webhook_allow_private
        )
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise errors.InvalidRequest("Idempotency-Key must be 1 to 255 characters.")
        earlier = await asyncio.to_thread(
            store.reserve_key, owner, idempotency_key, archive.body_hash(body)
        )
        if earlier is not None:
            stored = await asyncio.to_thread(store.get_analysis, earlier, owner)
            if stored is None:
                raise errors.NotFound(
                    "The analysis stored for this Idempotency-Key has been deleted."
                )
            response.headers["Idempotent-Replayed"] = "true"
            return AnalysisResponse.model_validate(
                await asyncio.to_thread(full_response, store, stored)
            )
    try:
        no_cache = "no-cache" in request.headers.get("cache-control", "").lower()
        result, key = await archive.produce(
            body, settings, llm, prompt, store, owner, use_cache=not no_cache, run=run
        )
        assert result.id is not None
        await asyncio.to_thread(
            store.save_analysis,
            owner,
            body.model_dump(mode="json"),
            result.model_dump(mode="json", exclude={"id", "marks"}),
            key,
            result.id,
            body.callback_url,
        )
    except BaseException:
        if idempotency_key is not None:
            await asyncio.to_thread(store.release_key, owner, idempotency_key)
        raise
    if idempotency_key is not None:
        await asyncio.to_thread(store.finish_key, owner, idempotency_key, result.id)
    if body.callback_url:
        delivery = await asyncio.to_thread(
            store.add_delivery,
            owner,
            "analysis.completed",
            result.id,
            body.callback_url,
            result.model_dump(mode="json"),
        )
        await get_queue(request).enqueue_webhook(delivery)
    response.headers["Location"] = f"/v1/analyses/{result.id}"
    return result


class AnalysisSummary(BaseModel):
    """One line of the analyses list."""

    id: str
    created_at: datetime
    url: str | None
    title: str | None
    model: str
    claims: int
    flags: int
    cached: bool


class AnalysisList(BaseModel):
    """One page of stored analyses, oldest first."""

    object: Literal["list"] = "list"
    data: list[AnalysisSummary]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class MarkRequest(BaseModel):
    """An editor's verdict on a claim; ``status: null`` clears the mark."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["confirmed", "disputed"] | None
    note: str | None = Field(None, max_length=2_000)
    editor: str | None = Field(None, max_length=200, description="Who is marking.")


class MarkCleared(BaseModel):
    claim_id: str
    status: None = None


class WebhookSecretOut(BaseModel):
    """The secret webhooks to this key are signed with (HMAC-SHA256)."""

    secret: str
    header: str = "FactDesk-Signature"
    scheme: str = "t=UNIX_SECONDS,v1=hex(HMAC_SHA256(secret, f'{t}.' + body))"


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "content": {"application/problem+json": {}},
        "description": "No such analysis for this API key (`not-found`).",
    }
}


async def _owned(request: Request, analysis_id: str) -> StoredAnalysis:
    stored = await asyncio.to_thread(get_store(request).get_analysis, analysis_id, caller(request))
    if stored is None:
        raise errors.NotFound(f"No analysis {analysis_id[:60]!r}.")
    return stored


@router.get(
    "/v1/analyses/{analysis_id}",
    response_model=AnalysisResponse,
    responses=NOT_FOUND,
    summary="A stored analysis, with editors' marks",
)
async def get_analysis(analysis_id: str, request: Request) -> dict[str, Any]:
    stored = await _owned(request, analysis_id)
    return await asyncio.to_thread(full_response, get_store(request), stored)


@router.get("/v1/analyses", response_model=AnalysisList, summary="List stored analyses")
async def list_analyses(
    request: Request,
    url: Annotated[str | None, Query(max_length=2_048)] = None,
    since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AnalysisList:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    rows, nxt = await asyncio.to_thread(
        get_store(request).list_analyses, caller(request), url, since, cursor, limit
    )
    data = [
        AnalysisSummary(
            id=r.id,
            created_at=r.created_at,
            url=r.url,
            title=r.request.get("title"),
            model=r.response.get("meta", {}).get("model", ""),
            claims=len(r.response.get("claims", [])),
            flags=len(r.response.get("flags", [])),
            cached=bool(r.response.get("meta", {}).get("cached", False)),
        )
        for r in rows
    ]
    return AnalysisList(data=data, next_cursor=nxt)


@router.delete(
    "/v1/analyses/{analysis_id}",
    status_code=204,
    responses=NOT_FOUND,
    summary="Delete a stored analysis",
)
async def delete_analysis(analysis_id: str, request: Request) -> Response:
    deleted = await asyncio.to_thread(
        get_store(request).delete_analysis, analysis_id, caller(request)
    )
    if not deleted:
        raise errors.NotFound(f"No analysis {analysis_id[:60]!r}.")
    return Response(status_code=204)


@router.patch(
    "/v1/analyses/{analysis_id}/claims/{claim_id}",
    response_model=ClaimMark | MarkCleared,
    responses=NOT_FOUND,
    summary="Mark a claim confirmed or disputed",
)
async def mark_claim(
    analysis_id: str, claim_id: str, body: MarkRequest, request: Request
) -> ClaimMark | MarkCleared:
    stored = await _owned(request, analysis_id)
    known = {c["id"] for c in stored.response.get("claims", [])}
    known |= {c["id"] for c in stored.response.get("rejected_claims", [])}
    if claim_id not in known:
        raise errors.NotFound(f"Analysis {analysis_id} has no claim {claim_id[:40]!r}.")
    owner = caller(request)
    row = await asyncio.to_thread(
        get_store(request).set_mark,
        analysis_id,
        claim_id,
        body.status,
        body.note,
        body.editor,
        owner[:12] or None,
    )
    return mark_out(row) if row is not None else MarkCleared(claim_id=claim_id)


@router.get(
    "/v1/analyses/{analysis_id}/deliveries",
    responses=NOT_FOUND,
    summary="Webhook deliveries of an analysis or batch, with every attempt",
    tags=["webhooks"],
)
async def list_deliveries(analysis_id: str, request: Request) -> dict[str, Any]:
    rows = await asyncio.to_thread(get_store(request).deliveries, caller(request), analysis_id)
    return {
        "object": "list",
        "data": [
            {
                "id": d.id,
                "event": d.event,
                "url": d.url,
                "status": d.status,
                "attempts": [
                    {
                        "attempt": a.attempt,
                        "at": a.at.isoformat(),
                        "status_code": a.status_code,
                        "error": a.error,
                        "duration_ms": round(a.duration_ms, 1),
                    }
                    for a in attempts
                ],
            }
            for d, attempts in rows
        ],
    }


@router.get(
    "/v1/webhook-secret",
    response_model=WebhookSecretOut,
    summary="The secret this key's webhooks are signed with",
    tags=["webhooks"],
)
async def webhook_secret(request: Request) -> WebhookSecretOut:
    secret = await asyncio.to_thread(get_store(request).webhook_secret, caller(request))
    return WebhookSecretOut(secret=secret)


def _settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings_dep)]
