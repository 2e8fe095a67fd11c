"""Routers of stored analyses, batches and the review page, and what they share: the
caller's identity (owner), the store and the job queue."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

from fastapi import FastAPI, Request

from ..jobs import JobQueue
from ..security import ApiKeys, presented_key
from ..settings import Settings
from ..storage import Store

_PROBLEM_CODES = {
    400: "Body is not strict UTF-8 JSON (`invalid-json`).",
    401: "API keys are configured and the request has no accepted key (`unauthorized`).",
    404: "No such resource for this API key (`not-found`).",
    409: "Idempotency-Key reused with another body or still running "
    "(`idempotency-key-reused`, `idempotency-key-in-progress`).",
    413: "Body, text or batch over its limit (`body-too-large`, `text-too-long`, "
    "`batch-too-large`).",
    415: "Body is not `application/json` (`unsupported-media-type`).",
    422: "Request does not match the schema, or its callback URL is refused "
    "(`invalid-request`, `duplicate-keys`, `empty-text`, `callback-url-refused`).",
    429: "Over the rate limit (`rate-limited`).",
    500: "Unexpected failure (`internal-error`).",
    502: "The model failed (`model-upstream-error`, `model-output-invalid`, ...).",
    503: "The model is unreachable (`model-unavailable`).",
    504: "The model did not answer in time (`model-timeout`).",
    507: "The key's stored bytes would pass the quota (`storage-quota-exceeded`).",
}

#: problem+json responses every router of this package documents.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"content": {"application/problem+json": {}}, "description": desc}
    for code, desc in _PROBLEM_CODES.items()
}


def caller(request: Request) -> str:
    """Who owns what this request stores or reads: the accepted API key's SHA-256 digest,
    or ``""`` when the server has no keys configured. (The request guard has already
    refused requests to ``/v1/*`` without an accepted key.)"""
    settings: Settings = request.app.state.settings
    keys = ApiKeys(settings.api_keys)
    if not keys.enabled:
        return ""
    headers = {k.lower(): v for k, v in request.headers.items()}
    key = presented_key(headers) or request.cookies.get("factdesk_key")
    return keys.identify(key) or "!anonymous"


def get_store(request: Request) -> Store:
    """The process's store (opened at start-up)."""
    store: Store = request.app.state.store
    return store


def get_queue(request: Request) -> JobQueue:
    """The process's job queue (opened at start-up)."""
    queue: JobQueue = request.app.state.queue
    return queue


async def startup(app: FastAPI) -> None:
    """Open the store (migrating it) and the job queue: arq on Redis when
    ``FACTDESK_REDIS_URL`` is set, else in-process workers."""
    from ..jobs.work import WorkContext

    settings: Settings = app.state.settings
    store = await asyncio.to_thread(Store.open, settings)
    app.state.store = store
    queue: JobQueue
    if settings.redis_url:
        from ..jobs.redis_queue import ArqQueue

        queue = await ArqQueue.connect(settings)
    else:
        from ..jobs.local import LocalQueue

        local = LocalQueue(settings.worker_concurrency)
        name = f"{socket.gethostname()}:{os.getpid()}:api"
        await local.start(
            lambda q: WorkContext(store, settings, app.state.llm, app.state.prompt, q, name)
        )
        queue = local
    app.state.queue = queue
    logging.getLogger("factdesk.api").info(
        "storage %s, queue %s",
        store.engine.url.render_as_string(hide_password=True),
        "redis" if settings.redis_url else "in-process",
    )


async def ensure_started(request: Request) -> None:
    """Open the store and queue on first use when the app was run without its lifespan
    (some ASGI hosts and test transports skip it); a no-op once they are open."""
    app = request.app
    if getattr(app.state, "queue", None) is not None:
        return
    lock: asyncio.Lock | None = getattr(app.state, "start_lock", None)
    if lock is None:
        lock = app.state.start_lock = asyncio.Lock()
    async with lock:
        if getattr(app.state, "queue", None) is None:
            await startup(app)


async def shutdown(app: FastAPI) -> None:
    """Close the queue and the store."""
    queue: JobQueue | None = getattr(app.state, "queue", None)
    if queue is not None:
        await queue.close()
    store: Store | None = getattr(app.state, "store", None)
    if store is not None:
        store.close()
