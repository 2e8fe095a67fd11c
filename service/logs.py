"""Structured logs: one JSON object per line, secrets masked.

Each request gets one ``factdesk.access`` line (request id, method, path, status, key
id, model, model calls, timings; the article text only when ``FACTDESK_LOG_ARTICLE_TEXT``
is on). The model client reports into the current request's :class:`RequestRecord`
through a context variable, so routes need not know about logging.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ModelError
from .llm import LLM, Completion, CompletionRequest
from .security import redact_secrets

ACCESS_LOGGER = "factdesk.access"


@dataclass
class RequestRecord:
    """What one request did, filled in as it runs and logged once at its end."""

    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    key_id: str | None = None
    model: str | None = None
    model_calls: int = 0
    transport_attempts: int = 0
    llm_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    problem: str | None = None
    body_bytes: int = 0
    article_text: str | None = None

    def as_log(self) -> dict[str, Any]:
        """The log line's fields; ``article_text`` only when it was set explicitly."""
        out: dict[str, Any] = {
            "event": "request",
            "request_id": self.request_id,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "ms": round((time.perf_counter() - self.started) * 1000, 1),
            "body_bytes": self.body_bytes,
        }
        if self.key_id:
            out["key_id"] = self.key_id
        if self.model_calls or self.model:
            out.update(
                model=self.model,
                attempts=self.model_calls,
                transport_attempts=self.transport_attempts,
                llm_ms=round(self.llm_ms, 1),
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
            )
        if self.problem:
            out["problem"] = self.problem
        if self.article_text is not None:
            out["article_text"] = self.article_text
        return out


current_record: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "factdesk_request_record", default=None
)


class RecordingLLM:
    """Wraps a model client; every call is counted into the current request's record.
    Replies and errors pass through unchanged."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner

    async def complete(self, request: CompletionRequest) -> Completion:
        """The inner client's completion, with model, calls, attempts and time recorded."""
        record = current_record.get()
        t0 = time.perf_counter()
        try:
            completion = await self.inner.complete(request)
        except ModelError as exc:
            if record is not None:
                record.model = request.model
                record.model_calls += 1
                record.transport_attempts += max(1, exc.record.attempts)
                record.llm_ms += (time.perf_counter() - t0) * 1000
            raise
        if record is not None:
            record.model = completion.model or request.model
            record.model_calls += 1
            record.transport_attempts += completion.transport_attempts
            record.llm_ms += (time.perf_counter() - t0) * 1000
            record.prompt_tokens += completion.usage.prompt_tokens
            record.completion_tokens += completion.usage.completion_tokens
        return completion

    async def ready(self, model: str) -> tuple[bool, str]:
        """The inner client's readiness."""
        return await self.inner.ready(model)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (parsed when it is
    already a JSON object), exception text; every string passes through
    :func:`~service.security.redact_secrets`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        parsed: Any = None
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            out.update(parsed)
        else:
            out["message"] = message
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return redact_secrets(json.dumps(out, ensure_ascii=False, default=str), self.secrets)


class RedactingFilter(logging.Filter):
    """Masks key-like strings in a record's message before any handler sees it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_secrets(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_HANDLER_NAME = "factdesk-json"


def setup_logging(secrets: Iterable[str] = ()) -> None:
    """Make every ``factdesk.*`` record redacted, and printed as one JSON line on stderr
    unless the process already configured logging (a root handler exists). The logger
    level is raised to INFO only when nobody set it; litellm's loggers (which log whole
    prompts) are held at WARNING unless ``LITELLM_LOG`` asks for more. Idempotent."""
    secrets = tuple(secrets)
    if os.environ.get("LITELLM_LOG", "ERROR").upper() not in ("DEBUG", "INFO"):
        # litellm logs whole prompts (the article) at INFO/DEBUG; keep them out unless
        # someone asked for them with LITELLM_LOG.
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
            third = logging.getLogger(name)
            if third.level == logging.NOTSET:
                third.setLevel(logging.WARNING)
    logger = logging.getLogger("factdesk")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    for f in list(logger.filters):
        if isinstance(f, RedactingFilter):
            logger.removeFilter(f)
    redacting = RedactingFilter(secrets)
    logger.addFilter(redacting)
    for name in (ACCESS_LOGGER, "factdesk.api", "factdesk.llm"):
        child = logging.getLogger(name)
        for f in list(child.filters):
            if isinstance(f, RedactingFilter):
                child.removeFilter(f)
        child.addFilter(redacting)
    if logging.getLogger().handlers:
        return
    if any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        for h in logger.handlers:
            if h.get_name() == _HANDLER_NAME:
                h.setFormatter(JsonFormatter(secrets))
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter(secrets))
    logger.addHandler(handler)
