"""The model boundary. The only module that imports litellm.

Two retry layers, each with one owner:

* transport (:class:`LiteLLMClient`): 429, 5xx, connection errors and timeouts are retried
  with tenacity, honouring ``Retry-After``, bounded in attempts and total time; litellm's
  own retries are off so the layers never multiply;
* output (:func:`complete_structured`): a reply that is not valid JSON for the schema is
  re-asked with the validation errors, bounded.

When either runs out, a :class:`~service.errors.ModelError` carries the attempts, the
usage so far and the last raw output.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from .errors import (
    CallRecord,
    ContextWindowExceeded,
    ModelError,
    ModelOutputInvalid,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    ModelUpstreamError,
    Usage,
)
from .security import redact_secrets
from .settings import LOCAL_MODEL, Settings

log = logging.getLogger("factdesk.llm")

Message = dict[str, str]
T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class CompletionRequest:
    """One chat completion: messages plus the JSON schema the reply must follow."""

    model: str
    messages: Sequence[Message]
    schema: dict[str, Any]
    schema_name: str = "analysis"


@dataclass(frozen=True)
class Completion:
    """The raw reply of one model call."""

    text: str
    usage: Usage
    model: str
    transport_attempts: int = 1


class LLM(Protocol):
    """What the pipeline needs from a model: one async completion, and a readiness probe."""

    async def complete(self, request: CompletionRequest) -> Completion:
        """Return the model's reply or raise a :class:`~service.errors.ModelError`."""
        ...

    async def ready(self, model: str) -> tuple[bool, str]:
        """``(True, detail)`` when ``model`` can be called now, else ``(False, reason)``."""
        ...


# ----------------------------------------------------------------------------- litellm


def _litellm() -> Any:
    """Import litellm configured for offline, recordable use (no cost-map download, httpx
    transport so every call is plain HTTP that vcrpy can record and replay)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("DISABLE_AIOHTTP_TRANSPORT", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class _Retryable(Exception):
    """Internal: a transport failure worth another try."""

    def __init__(self, error: ModelError, retry_after_s: float | None) -> None:
        super().__init__(error.detail)
        self.error = error
        self.retry_after_s = retry_after_s


def _headers_of(exc: BaseException) -> dict[str, str]:
    headers: dict[str, str] = {}
    raw = getattr(exc, "litellm_response_headers", None)
    if raw:
        headers.update({str(k).lower(): str(v) for k, v in dict(raw).items()})
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        headers.update({k.lower(): v for k, v in response.headers.items()})
    return headers


def retry_after_seconds(headers: dict[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``retry-after-ms``."""
    if "retry-after-ms" in headers:
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


#: Slack on top of ``timeout_s`` for one whole call (see ``_call_once``).
_CALL_GRACE_S = 5.0

_CONTEXT_RE = re.compile(r"context (window|length)|exceed.*context|too many tokens", re.I)


def _message_of(exc: BaseException) -> str:
    # providers echo keys in error messages ("Incorrect API key provided: sk-...")
    text = redact_secrets(str(exc) or exc.__class__.__name__)
    return text[:500]


def _is_connection_error(exc: BaseException) -> bool:
    """litellm reports a refused connection as a 500; find the cause in the chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (httpx.ConnectError, ConnectionError)):
            return True
        if current.__class__.__name__ == "APIConnectionError":
            return True
        current = current.__cause__ or current.__context__
    return "Connection error" in str(exc)


def map_litellm_error(
    exc: BaseException, model: str
) -> tuple[ModelError | ContextWindowExceeded | BaseException, bool]:
    """Map a litellm exception to ``(our error, retryable)``. Never leaks keys: litellm's
    messages name the provider and status, not credentials."""
    ll = _litellm()
    msg = _message_of(exc)
    headers = _headers_of(exc)
    if isinstance(exc, ll.ContextWindowExceededError) or (
        isinstance(exc, ll.BadRequestError) and _CONTEXT_RE.search(msg)
    ):
        return ContextWindowExceeded(
            f"The article does not fit the context window of {model}; send a shorter text "
            "or use a model with a larger context."
        ), False
    if isinstance(exc, ll.RateLimitError):
        return ModelRateLimited(
            f"{model} kept answering 429 Too Many Requests",
            retry_after_s=retry_after_seconds(headers),
        ), True
    if isinstance(exc, ll.Timeout):
        return ModelTimeout(f"{model} did not answer in time"), True
    if isinstance(exc, ll.APIConnectionError) or _is_connection_error(exc):
        return ModelUnavailable(f"{model} is unreachable: {msg}"), True
    if isinstance(exc, (ll.AuthenticationError, ll.PermissionDeniedError)):
        return ModelUpstreamError(
            f"{model} refused the credentials (check the provider's API key)"
        ), False
    if isinstance(exc, ll.NotFoundError):
        return ModelUpstreamError(f"{model} was not found at the provider: {msg}"), False
    if isinstance(exc, ll.BadRequestError):
        return ModelUpstreamError(f"{model} rejected the request: {msg}"), False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 500:
        return ModelUpstreamError(f"{model} failed with HTTP {status}: {msg}"), True
    if isinstance(exc, ll.APIError):
        return ModelUpstreamError(f"{model} failed: {msg}"), status is None or status >= 500
    return exc, False


def response_format_for(mode: str, schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``response_format`` parameter for a structured-output mode."""
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if mode == "json_object_schema":
        # llama.cpp's server turns this schema into a grammar that constrains decoding.
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


@dataclass
class LiteLLMClient:
    """Calls any litellm provider, with bounded transport retries and mapped errors."""

    settings: Settings
    _sleep: Any = field(default=None, repr=False)

    def structured_mode(self, model: str) -> str:
        """How to ask ``model`` for schema-shaped output (setting ``structured_output``)."""
        mode = self.settings.structured_output
        if mode != "auto":
            return mode
        if (
            model == LOCAL_MODEL
            or self.settings.api_base_for(model) == self.settings.local_api_base
        ):
            return "json_object_schema"
        provider = model.split("/", 1)[0] if "/" in model else ""
        if provider in {"hosted_vllm", "llamafile", "lm_studio"}:
            return "json_object_schema"
        try:
            if _litellm().supports_response_schema(model=model):
                return "json_schema"
        except Exception:  # unknown model: fall through to plain JSON mode
            pass
        return "json_object"

    def _api_key(self, model: str) -> str | None:
        if self.settings.api_key is not None and model == self.settings.model:
            return self.settings.api_key.get_secret_value()
        if model == LOCAL_MODEL:
            return "no-key"  # llama.cpp's server ignores it; the OpenAI client needs one
        return None

    async def _call_once(self, request: CompletionRequest, timeout_s: float) -> Completion:
        ll = _litellm()
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": list(request.messages),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_output_tokens,
            # constant: litellm caches its provider client (and so its connection pool)
            # per timeout value; the call's remaining budget is the deadline below
            "timeout": self.settings.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            "response_format": response_format_for(
                self.structured_mode(request.model), request.schema, request.schema_name
            ),
        }
        api_base = self.settings.api_base_for(request.model)
        if api_base:
            kwargs["api_base"] = api_base
        key = self._api_key(request.model)
        if key:
            kwargs["api_key"] = key
        try:
            # httpx's timeout bounds each read, not the call: a server that trickles bytes
            # would hold the request forever, so the whole call gets a deadline too (with
            # grace: litellm's first call in a process spends seconds before any I/O).
            response = await asyncio.wait_for(ll.acompletion(**kwargs), timeout_s + _CALL_GRACE_S)
        except TimeoutError as exc:
            raise _Retryable(ModelTimeout(f"{request.model} did not answer in time"), None) from exc
        except Exception as exc:
            mapped, retryable = map_litellm_error(exc, request.model)
            if isinstance(mapped, ContextWindowExceeded):
                raise mapped from exc
            if not isinstance(mapped, ModelError):
                raise ModelUpstreamError(f"{request.model} failed: {_message_of(exc)}") from exc
            if retryable:
                raise _Retryable(mapped, mapped.retry_after_s) from exc
            raise mapped from exc
        return self._completion_of(response, request.model)

    def _completion_of(self, response: Any, model: str) -> Completion:
        usage_obj = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage_obj, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage_obj, "completion_tokens", 0) or 0)
        cost: float | None
        if model == LOCAL_MODEL:
            cost = 0.0
        else:
            try:
                cost = float(_litellm().completion_cost(completion_response=response))
            except Exception:  # price unknown for this model
                cost = None
        choices = getattr(response, "choices", None) or []
        text = ""
        if choices:
            message = getattr(choices[0], "message", None)
            text = getattr(message, "content", None) or ""
        return Completion(
            text=text,
            usage=Usage(prompt_tokens, completion_tokens, cost),
            model=str(getattr(response, "model", None) or model),
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        """One completion with transport retries (bounded by ``transport_retries`` and the
        total budget of ``timeout_s`` x attempts); raises a mapped ``ModelError``."""
        s = self.settings
        deadline = time.monotonic() + s.timeout_s * (s.transport_retries + 1)
        attempts = 0

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = exc.retry_after_s if isinstance(exc, _Retryable) else None
            if retry_after is not None:
                return min(retry_after, s.retry_max_wait_s)
            backoff: float = s.retry_base_s * (2 ** (state.attempt_number - 1))
            return float(min(backoff, s.retry_max_wait_s))

        def worth_retrying(exc: BaseException) -> bool:
            if not isinstance(exc, _Retryable):
                return False
            if exc.retry_after_s is not None and exc.retry_after_s > s.retry_max_wait_s:
                return False  # the provider asks for longer than we may wait
            return time.monotonic() < deadline

        retrying = AsyncRetrying(
            stop=stop_after_attempt(s.transport_retries + 1),
            wait=wait,
            retry=retry_if_exception(worth_retrying),
            reraise=True,
            **({"sleep": self._sleep} if self._sleep else {}),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    remaining = max(0.1, deadline - time.monotonic())
                    completion = await self._call_once(request, min(s.timeout_s, remaining))
                    log.debug("model call ok after %d transport attempt(s)", attempts)
                    return Completion(completion.text, completion.usage, completion.model, attempts)
        except _Retryable as exc:
            error = exc.error
            error.record = CallRecord(attempts=attempts)
            error.detail = f"{error.detail} (tried {attempts} time(s))"
            raise error from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def ready(self, model: str) -> tuple[bool, str]:
        """Readiness without spending tokens: a self-hosted endpoint must answer
        ``GET /models``; a hosted provider must have its keys configured."""
        api_base = self.settings.api_base_for(model)
        if api_base:
            url = api_base.rstrip("/") + "/models"
            try:
                async with httpx.AsyncClient(timeout=3.0) as client:
                    r = await client.get(url)
            except httpx.HTTPError as exc:
                return (
                    False,
                    f"model server at {api_base} is unreachable ({exc.__class__.__name__})",
                )
            if r.status_code >= 400:
                return False, f"model server at {api_base} answered HTTP {r.status_code}"
            return True, f"model server at {api_base} is up"
        if self.settings.api_key is not None and model == self.settings.model:
            return True, "API key configured"
        try:
            env = _litellm().validate_environment(model=model)
        except Exception as exc:
            return False, f"unknown model {model!r}: {_message_of(exc)}"
        missing = env.get("missing_keys") or []
        if missing:
            return False, f"missing credentials for {model}: set {', '.join(missing)}"
        return True, "credentials configured"


# ----------------------------------------------------------------------------- re-ask


@dataclass
class StructuredResult(Generic[T]):
    """A validated model reply plus what it took to get it."""

    value: T
    attempts: int
    usage: Usage
    raw: str
    model: str


_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.I)


def extract_json(text: str) -> str:
    """The JSON object inside a reply: code fences and prose around it are dropped."""
    stripped = _FENCE.sub("", text.strip())
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        return stripped[start : end + 1]
    return stripped


def describe_errors(exc: ValidationError | json.JSONDecodeError | ValueError) -> str:
    """Validation errors as short lines the model can act on."""
    if isinstance(exc, ValidationError):
        lines = []
        for err in exc.errors()[:20]:
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            lines.append(f"- {loc}: {err['msg']}")
        return "\n".join(lines)
    return f"- not valid JSON: {exc}"


async def complete_structured(
    llm: LLM,
    *,
    model: str,
    messages: Sequence[Message],
    output_model: type[T],
    schema: dict[str, Any],
    max_reasks: int,
) -> StructuredResult[T]:
    """Call ``llm`` until its reply validates against ``output_model``: at most
    ``1 + max_reasks`` calls, each re-ask showing the model its errors. Raises
    :class:`ModelOutputInvalid` (with attempts, usage, last output) when none validates,
    or the transport's ``ModelError`` (with the usage so far)."""
    usage = Usage()
    history = list(messages)
    last_raw: str | None = None
    served_by = model
    for attempt in range(1, max_reasks + 2):
        try:
            completion = await llm.complete(CompletionRequest(model, history, schema))
        except ModelError as exc:
            exc.record.attempts = attempt
            exc.record.usage = usage
            exc.record.last_output = last_raw
            raise
        usage.add(completion.usage)
        served_by = completion.model
        last_raw = completion.text
        try:
            if not completion.text.strip():
                raise ValueError("the reply was empty")
            value = output_model.model_validate_json(extract_json(completion.text))
        except (ValidationError, ValueError) as exc:
            problems = describe_errors(exc)
            log.info("model output invalid (attempt %d): %s", attempt, problems[:300])
            history = [
                *history,
                {"role": "assistant", "content": completion.text[:4000]},
                {
                    "role": "user",
                    "content": "Your reply did not match the required JSON schema:\n"
                    f"{problems}\nReply again with one corrected JSON object only.",
                },
            ]
            continue
        return StructuredResult(value, attempt, usage, completion.text, served_by)
    raise ModelOutputInvalid(
        f"{model} returned output that does not match the schema {max_reasks + 1} time(s)",
        record=CallRecord(attempts=max_reasks + 1, usage=usage, last_output=last_raw),
    )
