"""The FastAPI application: settings, model client, routes and problem+json errors."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, errors
from .api import router
from .llm import LLM, LiteLLMClient
from .prompts import load_prompt
from .settings import Settings

log = logging.getLogger("factdesk.api")

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem response with a stable ``type``."""
    body: dict[str, Any] = {
        "type": errors.PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "(body)"


async def _on_factdesk_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.FactDeskError)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = dict(exc.extra)
    if isinstance(exc, errors.ModelError):
        extra["attempts"] = exc.record.attempts or None
        if exc.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
        log.warning("model error %s: %s", exc.slug, exc.detail)
    return problem_response(
        exc.status, exc.slug, exc.title, exc.detail, request.url.path, headers or None, **extra
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errs = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errs):
        first = next(e for e in errs if e.get("type") == "json_invalid")
        reason = (first.get("ctx") or {}).get("error", "malformed JSON")
        return problem_response(
            400,
            errors.InvalidJSON.slug,
            errors.InvalidJSON.title,
            f'The body is not valid JSON ({reason}); send a JSON object like {{"text": "..."}}.',
            request.url.path,
        )
    items = [
        {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "code": e.get("type", "")}
        for e in errs
    ]
    summary = "; ".join(f"{i['field']}: {i['message']}" for i in items[:5])
    if len(items) > 5:
        summary += f" (and {len(items) - 5} more)"
    return problem_response(
        422,
        errors.InvalidRequest.slug,
        errors.InvalidRequest.title,
        f"Fix these fields: {summary}",
        request.url.path,
        errors=items,
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem_response(
        exc.status_code,
        slug,
        str(exc.detail),
        f"{request.method} {request.url.path}: {exc.detail}",
        request.url.path,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "FactDesk failed unexpectedly; the error is logged. Please report it.",
        request.url.path,
    )


class RequestGuard:
    """Pure ASGI middleware: request id, JSON content type and a body size limit that
    rejects oversized bodies before reading them whole."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")[:128] or uuid.uuid4().hex
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1", "replace")),
                ]
                log.info(
                    json.dumps(
                        {
                            "request_id": request_id,
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": message["status"],
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                        }
                    )
                )
            await send(message)

        if scope["method"] in ("POST", "PUT", "PATCH"):
            rejection = self._check_headers(headers)
            if rejection is None:
                body, rejection = await self._read_body(receive)
            if rejection is not None:
                await rejection(scope, receive, send_with_id)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _too_large(self, size: str) -> JSONResponse:
        return problem_response(
            413,
            errors.BodyTooLarge.slug,
            errors.BodyTooLarge.title,
            f"The request body is {size}; the limit is {self.max_body_bytes:,} bytes "
            "(FACTDESK_MAX_BODY_BYTES).",
        )

    def _check_headers(self, headers: dict[str, str]) -> JSONResponse | None:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return problem_response(
                415,
                errors.UnsupportedMediaType.slug,
                errors.UnsupportedMediaType.title,
                f"Content-Type is {ctype or 'missing'}; send the article as JSON with "
                "Content-Type: application/json.",
            )
        length = headers.get("content-length")
        if length is not None:
            try:
                if int(length) > self.max_body_bytes:
                    return self._too_large(f"{int(length):,} bytes")
            except ValueError:
                return problem_response(
                    400, "invalid-request", "Bad Content-Length", "Content-Length is not a number."
                )
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", self._too_large(f"over {self.max_body_bytes:,} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), None


def create_app(settings: Settings | None = None, llm: LLM | None = None) -> FastAPI:
    """Build the app. Settings are validated and the prompt loaded at start-up, so a bad
    configuration fails fast instead of on the first request."""
    settings = settings or Settings()
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("FactDesk %s: model %s, prompt %s", __version__, settings.model, prompt.label)
        yield

    app = FastAPI(
        title="FactDesk",
        version=__version__,
        description="Summary, attributed claims and uncertainty flags for news articles; "
        "every claim and summary sentence verified against the article text. Errors are "
        "`application/problem+json` with a stable `type` (see `/problems/{slug}`).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.llm = llm or LiteLLMClient(settings)
    app.state.prompt = prompt
    app.include_router(router)
    app.add_exception_handler(errors.FactDeskError, _on_factdesk_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)
    return app
