"""HTTP routes: analyses, health, readiness and problem-type documentation."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import JSONResponse

from . import errors
from .llm import LLM
from .logs import current_record
from .prompts import PromptTemplate
from .routers.analyses import create_stored_analysis
from .schemas import AnalysisRequest, AnalysisResponse, Health, Problem
from .serving import AnalysisLoop, ClientDisconnected, unless_disconnected
from .settings import Settings

router = APIRouter()

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {"application/problem+json": {}}, "description": desc}
    for code, desc in {
        400: "Body is not strict UTF-8 JSON (`invalid-json`).",
        401: "`FACTDESK_API_KEYS` is set and the request has no accepted key "
        "(`unauthorized`; see the `WWW-Authenticate` header).",
        409: "The Idempotency-Key was used with another body, or its first request is "
        "still running (`idempotency-key-reused`, `idempotency-key-in-progress`).",
        413: "Text or body over the limit (`text-too-long`, `body-too-large`).",
        415: "Body is not `application/json` (`unsupported-media-type`).",
        422: "Request does not match the schema, repeats a JSON key, or the text is empty "
        "(`invalid-request`, `duplicate-keys`, `empty-text`, `context-window-exceeded`).",
        429: "Over `FACTDESK_RATE_LIMIT_PER_MINUTE` for this key (`rate-limited`; "
        "`Retry-After` says when to retry).",
        502: "The model failed or kept returning invalid output "
        "(`model-upstream-error`, `model-rate-limited`, `model-output-invalid`).",
        503: "The model is unreachable (`model-unavailable`).",
        504: "The model did not answer in time (`model-timeout`).",
        507: "The API key's stored bytes would pass the quota (`storage-quota-exceeded`).",
    }.items()
}


def get_settings(request: Request) -> Settings:
    """The app's validated settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_llm(request: Request) -> LLM:
    """The model client (tests swap in a fake)."""
    llm: LLM = request.app.state.llm
    return llm


def get_prompt(request: Request) -> PromptTemplate:
    """The prompt loaded at start-up."""
    prompt: PromptTemplate = request.app.state.prompt
    return prompt


@router.post(
    "/v1/analyses",
    response_model=AnalysisResponse,
    responses=PROBLEM_RESPONSES,
    summary="Analyse an article",
    description="Summary with cited sentences, attributed claims with evidence spans, "
    "uncertainty flags; every item verified against the text. Offsets index `text` as sent. "
    "The analysis is stored: the response's `id` reads it again (`GET /v1/analyses/{id}`).",
    tags=["analyses"],
)
async def create_analysis(
    body: AnalysisRequest,
    request: Request,
    response: Response,
    settings: Annotated[Settings, Depends(get_settings)],
    llm: Annotated[LLM, Depends(get_llm)],
    prompt: Annotated[PromptTemplate, Depends(get_prompt)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Repeat a request safely: the same key with the same body returns "
            "the stored result (no second model call); with another body, 409.",
        ),
    ] = None,
) -> Response:
    # The analysis itself (text preparation, analyzers, model client, verification) runs
    # on the analysis loop when the app has one; storing stays on this loop. A client
    # that leaves has its analysis, and so its model call, cancelled.
    loop: AnalysisLoop | None = request.app.state.analysis_loop

    async def run(work: Coroutine[Any, Any, AnalysisResponse]) -> AnalysisResponse:
        return await loop.run(work) if loop is not None else await work

    try:
        result = await unless_disconnected(
            request.receive,
            create_stored_analysis(
                body, request, response, settings, llm, prompt, idempotency_key, run=run
            ),
        )
    except ClientDisconnected:
        record = current_record.get()
        if record is not None:
            record.problem = "client-closed-request"
        return Response(status_code=499)
    headers = {k: v for k, v in response.headers.items() if k.lower() not in _BODY_HEADERS}
    return Response(
        result.model_dump_json().encode("utf-8"),
        status_code=response.status_code or 200,
        media_type="application/json",
        headers=headers,
    )


#: Headers of the injected response that describe its (empty) body, not ours.
_BODY_HEADERS = frozenset({"content-length", "content-type"})


@router.get("/healthz", response_model=Health, tags=["ops"], summary="Process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The model is not reachable."}},
    tags=["ops"],
    summary="Model is reachable",
)
async def readyz(
    settings: Annotated[Settings, Depends(get_settings)],
    llm: Annotated[LLM, Depends(get_llm)],
) -> JSONResponse:
    ok, detail = await llm.ready(settings.model)
    health = Health(status="ok" if ok else "unavailable", model=settings.model, detail=detail)
    return JSONResponse(health.model_dump(), status_code=200 if ok else 503)


@router.get(
    "/problems/{slug}",
    tags=["ops"],
    summary="What a problem type means",
    responses={
        404: {
            "model": Problem,
            "content": {"application/problem+json": {}},
            "description": "No such problem type (`not-found`).",
        }
    },
)
async def problem_type(slug: str) -> JSONResponse:
    for cls in errors.ALL_PROBLEMS:
        if cls.slug == slug:
            doc = (cls.__doc__ or cls.title).strip()
            return JSONResponse(
                {
                    "type": errors.PROBLEM_BASE + slug,
                    "title": cls.title,
                    "status": cls.status,
                    "description": doc,
                }
            )
    if slug == "method-not-allowed":
        return JSONResponse(
            {"type": errors.PROBLEM_BASE + slug, "title": "Method not allowed", "status": 405}
        )
    raise errors.NotFound(f"no problem type {slug!r}")
