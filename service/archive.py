"""Analyses that are kept: the result cache in front of :func:`service.pipeline.analyze`
and the checks every request (single or batch item) passes first. The HTTP routes and
the batch worker both go through :func:`produce`; storing is theirs."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from . import errors
from .llm import LLM
from .pipeline import analyze
from .prompts import PromptTemplate
from .schemas import SCHEMA_VERSION, AnalysisRequest, AnalysisResponse
from .settings import Settings
from .storage import Store, new_id


def check_request(request: AnalysisRequest, settings: Settings) -> None:
    """Raise the problem an analysis request has before any model call (empty text,
    text over ``FACTDESK_MAX_TEXT_CHARS``)."""
    if not request.text.strip():
        raise errors.EmptyText("`text` is empty or only whitespace; send the article text.")
    if len(request.text) > settings.max_text_chars:
        raise errors.TextTooLong(
            f"`text` has {len(request.text):,} characters; the limit is "
            f"{settings.max_text_chars:,}. Split the article or raise FACTDESK_MAX_TEXT_CHARS."
        )


def cache_key(request: AnalysisRequest, settings: Settings, prompt: PromptTemplate) -> str:
    """What makes two analyses the same: text, title (it is in the prompt), model,
    prompt version and templates, schema version and options. Anything else (url,
    callback) does not change the answer."""
    from .generate import prompt_sha256

    options = request.options.model_dump(mode="json")
    # the label names the bundled model behind the local default, so switching GGUFs
    # is a different model here too
    options["model"] = settings.model_label(request.options.model or settings.model)
    key = {
        "text": request.text,
        "title": request.title,
        "options": options,
        "prompt": prompt.label,
        "prompt_sha256": prompt_sha256(prompt),
        "schema_version": SCHEMA_VERSION,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def body_hash(request: AnalysisRequest) -> str:
    """SHA-256 of the request as parsed (key order and whitespace do not matter)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


#: Runs an analysis coroutine somewhere (the API's analysis loop) and returns its result.
Runner = Callable[[Coroutine[Any, Any, AnalysisResponse]], Awaitable[AnalysisResponse]]


async def produce(
    request: AnalysisRequest,
    settings: Settings,
    llm: LLM,
    prompt: PromptTemplate,
    store: Store,
    owner: str,
    use_cache: bool = True,
    run: Runner | None = None,
) -> tuple[AnalysisResponse, str]:
    """The analysis for ``request`` with a fresh unguessable ``id`` (not stored yet),
    and its cache key. Unless ``use_cache`` or ``FACTDESK_RESULT_CACHE`` is off, a
    result this owner already has for the same cache key is reused without a model call
    and says ``meta.cached: true``."""
    check_request(request, settings)
    key = cache_key(request, settings, prompt)
    cached = None
    if use_cache and settings.result_cache:
        cached = await asyncio.to_thread(store.find_cached, owner, key)
    if cached is not None:
        response = AnalysisResponse.model_validate(cached)
        response.meta.cached = True
        response.marks = []
    else:
        work = analyze(request, settings, llm, prompt)
        response = await (run(work) if run is not None else work)
    response.id = new_id("an")
    return response, key
