"""FactDesk's error tree. Every error maps to one problem+json ``type`` and HTTP status.

::

    FactDeskError
    ├── RequestProblem            4xx: the client can fix it
    │   ├── EmptyText             422 empty-text
    │   ├── TextTooLong           413 text-too-long
    │   ├── BodyTooLarge          413 body-too-large
    │   ├── InvalidJSON           400 invalid-json
    │   ├── InvalidRequest        422 invalid-request   (wrong types, unknown fields, ranges)
    │   ├── ContextWindowExceeded 422 context-window-exceeded (article too long for the model)
    │   ├── NotFound              404 not-found
    │   ├── StorageQuotaExceeded  507 storage-quota-exceeded
    │   ├── IdempotencyConflict   409 idempotency-key-reused
    │   ├── IdempotencyInProgress 409 idempotency-key-in-progress
    │   ├── CallbackRefused       422 callback-url-refused (SSRF guard)
    │   └── BatchTooLarge         413 batch-too-large
    └── ModelError                5xx: the model side failed (carries attempts, usage, raw)
        ├── ModelUnavailable      503 model-unavailable  (unreachable, not ready)
        ├── ModelTimeout          504 model-timeout
        ├── ModelRateLimited      502 model-rate-limited (429 after bounded retries)
        ├── ModelUpstreamError    502 model-upstream-error (5xx after retries, 4xx, auth)
        └── ModelOutputInvalid    502 model-output-invalid (schema-invalid after re-asks)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

PROBLEM_BASE = "/problems/"


@dataclass
class Usage:
    """Tokens and cost accumulated over all model calls of one analysis."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0

    def add(self, other: Usage) -> None:
        """Add ``other`` into this usage; the cost becomes ``None`` once any call's cost
        is unknown (a partial sum would understate it)."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        if self.cost_usd is None or other.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += other.cost_usd


class FactDeskError(Exception):
    """Base error: ``slug`` is the stable problem type, ``status`` the HTTP status."""

    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    status: ClassVar[int] = 500

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    @property
    def type_uri(self) -> str:
        """The problem ``type`` URI (stable; documented under ``/problems/{slug}``)."""
        return PROBLEM_BASE + self.slug


class RequestProblem(FactDeskError):
    """The request cannot be processed as sent; the detail says what to fix."""

    slug = "invalid-request"
    title = "Invalid request"
    status = 422


class EmptyText(RequestProblem):
    slug = "empty-text"
    title = "Article text is empty"
    status = 422


class TextTooLong(RequestProblem):
    slug = "text-too-long"
    title = "Article text is too long"
    status = 413


class BodyTooLarge(RequestProblem):
    slug = "body-too-large"
    title = "Request body is too large"
    status = 413


class InvalidJSON(RequestProblem):
    slug = "invalid-json"
    title = "Request body is not valid JSON"
    status = 400


class InvalidRequest(RequestProblem):
    slug = "invalid-request"
    title = "Request does not match the schema"
    status = 422


class ContextWindowExceeded(RequestProblem):
    slug = "context-window-exceeded"
    title = "Article is too long for the model's context window"
    status = 422


@dataclass
class CallRecord:
    """What the model side did before failing: attempts, tokens, last raw output."""

    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    last_output: str | None = None


class ModelError(FactDeskError):
    """The model side failed after bounded retries."""

    slug = "model-upstream-error"
    title = "Model provider error"
    status = 502

    def __init__(
        self,
        detail: str,
        *,
        record: CallRecord | None = None,
        retry_after_s: float | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail, **extra)
        self.record = record or CallRecord()
        self.retry_after_s = retry_after_s


class ModelUnavailable(ModelError):
    slug = "model-unavailable"
    title = "Model is unreachable"
    status = 503


class ModelTimeout(ModelError):
    slug = "model-timeout"
    title = "Model did not answer in time"
    status = 504


class ModelRateLimited(ModelError):
    slug = "model-rate-limited"
    title = "Model provider kept rate-limiting"
    status = 502


class ModelUpstreamError(ModelError):
    slug = "model-upstream-error"
    title = "Model provider error"
    status = 502


class ModelOutputInvalid(ModelError):
    slug = "model-output-invalid"
    title = "Model output did not match the schema"
    status = 502


class NotFound(RequestProblem):
    slug = "not-found"
    title = "No such resource"
    status = 404


class UnsupportedMediaType(RequestProblem):
    slug = "unsupported-media-type"
    title = "Body must be application/json"
    status = 415


class StorageQuotaExceeded(RequestProblem):
    """Storing this would take the API key past ``FACTDESK_STORAGE_QUOTA_BYTES``; delete
    stored analyses (``DELETE /v1/analyses/{id}``) or raise the quota."""

    slug = "storage-quota-exceeded"
    title = "Storage quota exceeded"
    status = 507


class IdempotencyConflict(RequestProblem):
    """The ``Idempotency-Key`` was used before with a different request body; a key
    names one request. Use a new key for a new request."""

    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with another body"
    status = 409


class IdempotencyInProgress(RequestProblem):
    """A request with this ``Idempotency-Key`` is still running; retry after it ends."""

    slug = "idempotency-key-in-progress"
    title = "A request with this Idempotency-Key is in progress"
    status = 409


class CallbackRefused(RequestProblem):
    """The callback URL is not an http(s) URL of a public host: loopback, link-local,
    private and reserved addresses are refused (server-side request forgery), unless the
    server sets ``FACTDESK_WEBHOOK_ALLOW_PRIVATE``."""

    slug = "callback-url-refused"
    title = "Callback URL refused"
    status = 422


class BatchTooLarge(RequestProblem):
    """The batch has more items than ``FACTDESK_BATCH_MAX_ITEMS``; split it."""

    slug = "batch-too-large"
    title = "Batch has too many items"
    status = 413


ALL_PROBLEMS: tuple[type[FactDeskError], ...] = (
    EmptyText,
    TextTooLong,
    BodyTooLarge,
    InvalidJSON,
    InvalidRequest,
    ContextWindowExceeded,
    ModelUnavailable,
    ModelTimeout,
    ModelRateLimited,
    ModelUpstreamError,
    ModelOutputInvalid,
    NotFound,
    UnsupportedMediaType,
    StorageQuotaExceeded,
    IdempotencyConflict,
    IdempotencyInProgress,
    CallbackRefused,
    BatchTooLarge,
    FactDeskError,
)
