"""The FastAPI application: settings, model client, routes, problem+json errors, and the
:class:`RequestGuard` every HTTP request passes first (request id, API key, rate limit,
content type, body size, strict JSON, one structured log line)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, errors, routers
from .api import problem_type, router
from .buckets import rate_limiter
from .learned import attribution
from .llm import LLM, LiteLLMClient, _litellm
from .logs import ACCESS_LOGGER, RecordingLLM, RequestRecord, current_record, setup_logging
from .prompts import load_prompt
from .review import router as review_router
from .routers.analyses import router as analyses_router
from .routers.batches import JSONL_TYPES
from .routers.batches import router as batches_router
from .security import (
    SECURITY_PROBLEMS,
    ApiKeys,
    RateLimited,
    Unauthorized,
    inspect_json,
    presented_key,
    redact_secrets,
)
from .serving import AnalysisLoop
from .settings import Settings

log = logging.getLogger("factdesk.api")
access_log = logging.getLogger(ACCESS_LOGGER)

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
    """An RFC 9457 problem response with a stable ``type``; key-like strings in the
    detail are masked. The slug is noted on the current request's log record."""
    record = current_record.get()
    if record is not None:
        record.problem = slug
    body: dict[str, Any] = {
        "type": errors.PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": redact_secrets(detail),
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
    secrets: tuple[str, ...] = getattr(request.app.state, "secrets", ())
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        redact_secrets(exc.detail, secrets),
        request.url.path,
        headers or None,
        **extra,
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


def _internal_error(path: str | None) -> JSONResponse:
    return problem_response(
        500,
        "internal-error",
        "Internal error",
        "FactDesk failed unexpectedly; the error is logged. Please report it.",
        path,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return _internal_error(request.url.path)


async def _problem_doc(slug: str) -> JSONResponse:
    """``/problems/{slug}`` for the problem types of :mod:`service.security`; the rest are
    documented by the API's own route."""
    for cls in SECURITY_PROBLEMS:
        if cls.slug == slug:
            return JSONResponse(
                {
                    "type": errors.PROBLEM_BASE + slug,
                    "title": cls.title,
                    "status": cls.status,
                    "description": (cls.__doc__ or cls.title).strip(),
                }
            )
    return await problem_type(slug)


def _ctype(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_BODY_METHODS = ("POST", "PUT", "PATCH")

#: After refusing a body as too large, at most this much more of it is read (and
#: discarded) and for at most this long, so the client can read the refusal.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_MAX_S = 10.0


class RequestGuard:
    """Pure ASGI middleware in front of every HTTP request. Guarantees, in this order:

    * a request id (the client's ``X-Request-ID`` when it is short and plain, else a new
      one), echoed in the ``X-Request-ID`` response header;
    * with ``FACTDESK_API_KEYS`` set, ``/v1/*`` answers 401 ``unauthorized`` unless the
      request carries an accepted key; ``/healthz``, ``/readyz``, docs stay open;
    * with ``FACTDESK_RATE_LIMIT_PER_MINUTE`` set, ``/v1/*`` answers 429 ``rate-limited``
      with ``Retry-After`` once the key (or client address) has used its tokens;
    * bodies must be JSON (415), at most ``max_body_bytes`` (413, refused as soon as the
      declared length or the bytes received pass the limit, never read whole), and strict
      JSON (400 ``invalid-json``, 422 ``duplicate-keys``); after a 413 for a declared
      length the rest of the body is read and discarded (bounded) before the
      connection closes, so a client that writes its whole body before reading gets
      the 413, not a reset connection;
    * an exception that escapes the app becomes a 500 problem+json, never a bare error;
    * one JSON log line per request (never the article text unless configured).
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_body_bytes = settings.max_body_bytes
        self.keys = ApiKeys(settings.api_keys)
        self.limiter = rate_limiter(settings)
        self.log_article_text = settings.log_article_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        record = RequestRecord(request_id, scope["method"], scope["path"])
        token = current_record.set(record)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        try:
            await self._guarded(scope, receive, send_with_id, headers, record)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await _internal_error(scope["path"])(scope, receive, send_with_id)
        finally:
            current_record.reset(token)
            access_log.info(json.dumps(record.as_log(), ensure_ascii=False))

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
        record: RequestRecord,
    ) -> None:
        path: str = scope["path"]
        if path.startswith("/v1/"):
            rejection = await self._admit(scope, headers, record)
            if rejection is not None:
                await rejection(scope, receive, send)
                return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        # A JSON Lines batch upload is checked line by line by its route.
        jsonl = path == "/v1/batches" and _ctype(headers) in JSONL_TYPES
        rejection = None if jsonl else self._check_headers(headers)
        body = b""
        if rejection is None:
            body, rejection = await self._read_body(receive)
        if rejection is None and not jsonl:
            rejection = self._check_json(body, path, record)
        if rejection is not None:
            if rejection.status_code == 413:
                await self._refuse_body(rejection, scope, receive, send, headers)
            else:
                await rejection(scope, receive, send)
            return
        record.body_bytes = len(body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _admit(
        self, scope: Scope, headers: dict[str, str], record: RequestRecord
    ) -> JSONResponse | None:
        """API key, then rate limit; ``None`` when the request may go on."""
        identity = f"client:{(scope.get('client') or ('?',))[0]}"
        if self.keys.enabled:
            key = presented_key(headers)
            digest = self.keys.identify(key)
            if digest is None:
                why = (
                    "The API key is not accepted."
                    if key is not None
                    else "This API needs a key: send Authorization: Bearer KEY or X-API-Key: KEY."
                )
                return problem_response(
                    Unauthorized.status,
                    Unauthorized.slug,
                    Unauthorized.title,
                    why,
                    scope["path"],
                    headers={"WWW-Authenticate": 'Bearer realm="factdesk"'},
                )
            record.key_id = digest[:12]
            identity = f"key:{digest}"
        if self.limiter is not None:
            wait = await self.limiter.take(identity)
            if wait is not None:
                seconds = max(1, round(wait))
                return problem_response(
                    RateLimited.status,
                    RateLimited.slug,
                    RateLimited.title,
                    f"More than {int(self.limiter.capacity)} requests a minute; try again in "
                    f"{seconds} s.",
                    scope["path"],
                    headers={"Retry-After": str(seconds)},
                )
        return None

    def _too_large(self, size: str) -> JSONResponse:
        return problem_response(
            413,
            errors.BodyTooLarge.slug,
            errors.BodyTooLarge.title,
            f"The request body is {size}; the limit is {self.max_body_bytes:,} bytes "
            "(FACTDESK_MAX_BODY_BYTES).",
        )

    async def _refuse_body(
        self,
        rejection: JSONResponse,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str],
    ) -> None:
        """Send the refusal; when the client declared a length over the limit, read and
        discard that much (at most :data:`DRAIN_MAX_BYTES`, :data:`DRAIN_MAX_S`) before
        closing. Closing a socket with unread data makes the kernel reset the
        connection, and a client that writes its whole body before reading (urllib,
        requests) would see the reset instead of the 413. A body without a length, or
        longer than it declared, is not read further: its end is unknown. A client
        waiting for ``100 Continue`` has sent nothing, so nothing is read from it."""
        length = headers.get("content-length", "").strip()
        declared = int(length) if length.isdigit() else 0
        drain = (
            self.max_body_bytes < declared <= DRAIN_MAX_BYTES
            and headers.get("expect", "").strip().lower() != "100-continue"
            and "chunked" not in headers.get("transfer-encoding", "").lower()
        )

        async def send_open(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            elif message["type"] == "http.response.body" and drain:
                message = {**message, "more_body": True}
            await send(message)

        await rejection(scope, receive, send_open)
        if not drain:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_MAX_S
        drained = 0
        while drained < declared:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                break
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _check_headers(self, headers: dict[str, str]) -> JSONResponse | None:
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return problem_response(
                415,
                errors.UnsupportedMediaType.slug,
                errors.UnsupportedMediaType.title,
                f"Content-Type is {ctype[:100] or 'missing'}; send the article as JSON with "
                "Content-Type: application/json.",
            )
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return problem_response(
                    400, "invalid-request", "Bad Content-Length", "Content-Length is not a number."
                )
            if int(length) > self.max_body_bytes:
                return self._too_large(f"{int(length):,} bytes")
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        """The whole body, or a 413 as soon as more than the limit has arrived (whatever
        Content-Length claimed)."""
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

    def _check_json(self, body: bytes, path: str, record: RequestRecord) -> JSONResponse | None:
        problem = inspect_json(body)
        if problem is not None:
            return problem_response(
                problem.status, problem.slug, problem.title, problem.detail, path
            )
        if self.log_article_text:
            value = json.loads(body.removeprefix(b"\xef\xbb\xbf"))
            text = value.get("text") if isinstance(value, dict) else None
            if isinstance(text, str):
                record.article_text = text
        return None


def warm_up_components() -> None:
    """Load every learned component's weights now (idempotent; once per process)."""
    from .learned import consistency

    attribution.warm_up()  # the parser and the attribution tagger
    consistency.warm_up()


def create_app(
    settings: Settings | None = None, llm: LLM | None = None, offload: bool | None = None
) -> FastAPI:
    """Build the app. Settings are validated and the prompt loaded at start-up, so a bad
    configuration fails fast instead of on the first request. Every model call goes
    through :class:`~service.logs.RecordingLLM` so the request log line names the model
    and counts its calls. With ``offload`` (default: when no ``llm`` is injected, i.e.
    the real model client) analyses run on a :class:`~service.serving.AnalysisLoop`
    started by the lifespan, off the loop that serves HTTP."""
    settings = settings or Settings()
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    secrets = tuple(
        s for s in [settings.api_key.get_secret_value() if settings.api_key else ""] if s
    )
    setup_logging(secrets)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("FactDesk %s: model %s, prompt %s", __version__, settings.model, prompt.label)
        if llm is None:
            # Importing litellm takes seconds; paid here, not inside the first request's
            # timeout and retry budget.
            await asyncio.to_thread(_litellm)
        # learned components load once per process, before the first request
        await asyncio.to_thread(warm_up_components)
        if offload if offload is not None else llm is None:
            app.state.analysis_loop = AnalysisLoop().start()
        await routers.startup(app)
        try:
            yield
        finally:
            await routers.shutdown(app)
            analysis_loop: AnalysisLoop | None = app.state.analysis_loop
            app.state.analysis_loop = None
            if analysis_loop is not None:
                await asyncio.to_thread(analysis_loop.stop)

    app = FastAPI(
        title="FactDesk",
        version=__version__,
        description="Summary, attributed claims and uncertainty flags for news articles; "
        "every claim and summary sentence verified against the article text. Errors are "
        "`application/problem+json` with a stable `type` (see `/problems/{slug}`). With "
        "API keys configured, `/v1/*` needs `Authorization: Bearer KEY` or `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.llm = RecordingLLM(llm or LiteLLMClient(settings))
    app.state.prompt = prompt
    app.state.secrets = secrets
    app.state.analysis_loop = None
    # Routed before the API's own /problems/{slug} (which it falls back to).
    app.add_api_route("/problems/{slug}", _problem_doc, methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.include_router(analyses_router)
    app.include_router(batches_router)
    app.include_router(review_router)
    app.add_exception_handler(errors.FactDeskError, _on_factdesk_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.add_middleware(RequestGuard, settings=settings)
    return app
