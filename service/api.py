"""HTTP routes: analyses, health, readiness and problem-type documentation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from . import errors
from .llm import LLM
from .logs import current_record
from .pipeline import analyze
from .prompts import PromptTemplate
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
    "uncertainty flags; every item verified against the text. Offsets index `text` as sent.",
    tags=["analyses"],
)
async def create_analysis(
    request: Request,
    body: AnalysisRequest,
    settings: Annotated[Settings, Depends(get_settings)],
    llm: Annotated[LLM, Depends(get_llm)],
    prompt: Annotated[PromptTemplate, Depends(get_prompt)],
) -> Response:
    if not body.text.strip():
        raise errors.EmptyText("`text` is empty or only whitespace; send the article text.")
    if len(body.text) > settings.max_text_chars:
        raise errors.TextTooLong(
            f"`text` has {len(body.text):,} characters; the limit is "
            f"{settings.max_text_chars:,}. Split the article or raise FACTDESK_MAX_TEXT_CHARS."
        )

    async def work() -> bytes:
        result = await analyze(body, settings, llm, prompt)
        return result.model_dump_json().encode("utf-8")

    # On the analysis loop when the app runs one (the JSON too: it is CPU work); a
    # client that leaves has its analysis, and so its model call, cancelled.
    loop: AnalysisLoop | None = request.app.state.analysis_loop
    try:
        content = await unless_disconnected(
            request.receive, loop.run(work()) if loop is not None else work()
        )
    except ClientDisconnected:
        record = current_record.get()
        if record is not None:
            record.problem = "client-closed-request"
        return Response(status_code=499)
    return Response(content, media_type="application/json")


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
