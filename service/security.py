"""Who may call the API and how often, what a body must look like, and keeping secrets
out of everything FactDesk writes.

* API keys: the configuration holds SHA-256 hex digests of the accepted keys, never the
  keys; a presented key is hashed and compared in constant time against every digest.
* Rate limit: an in-memory token bucket per key (per client address when no keys are
  configured); refused requests learn when to come back.
* Strict JSON: UTF-8 only, no duplicate keys, no ``NaN``/``Infinity``, no lone
  surrogates, bounded nesting; each refusal says what was wrong.
* Redaction: key-like strings are masked before text reaches a log line or a response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import errors

#: Deepest JSON nesting accepted (the request schema needs 2 levels).
MAX_JSON_DEPTH = 32


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of ``key``, the form ``FACTDESK_API_KEYS`` holds."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- API keys


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request carries (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``);
    ``None`` when it carries neither. ``headers`` has lower-case names."""
    auth = headers.get("authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys, as SHA-256 digests. Empty means authentication is off."""

    digests: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """True when requests to ``/v1/*`` must carry a valid key."""
        return bool(self.digests)

    def identify(self, key: str | None) -> str | None:
        """The digest of ``key`` when it is accepted, else ``None``. Every configured digest
        is compared with :func:`hmac.compare_digest`, so the time taken does not depend on
        which digest matched or how much of it did."""
        if key is None:
            return None
        candidate = hash_key(key).encode("ascii")
        match: str | None = None
        for digest in self.digests:
            if hmac.compare_digest(candidate, digest.encode("ascii")):
                match = digest
        return match


# --------------------------------------------------------------------------- rate limit


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets holding ``per_minute`` tokens each, refilled continuously at
    ``per_minute / 60`` per second. In memory, per process; at most ``max_clients``
    buckets are kept (full ones are forgotten first, as they carry no state)."""

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client: str, now: float | None = None) -> float | None:
        """Take one token for ``client``: ``None`` when the request may proceed, else the
        seconds until a token is available (never less than 1)."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(client)
        if bucket is None:
            self._make_room(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1.0, math.ceil((1.0 - bucket.tokens) / self.rate))

    def _make_room(self, now: float) -> None:
        if len(self._buckets) < self.max_clients:
            return
        for name, b in list(self._buckets.items()):
            if b.tokens + (now - b.updated) * self.rate >= self.capacity:
                del self._buckets[name]
        while len(self._buckets) >= self.max_clients:
            del self._buckets[next(iter(self._buckets))]


# --------------------------------------------------------------------------- strict JSON


@dataclass(frozen=True)
class BodyProblem:
    """Why a JSON body is refused: HTTP status, problem slug, title and detail."""

    status: int
    slug: str
    title: str
    detail: str


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _Constant(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise _Constant(name)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _walk(value: Any) -> tuple[int, str | None]:
    """Nesting depth of ``value`` and the first string holding a lone surrogate."""
    depth = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            depth = max(depth, level)
            for k, v in item.items():
                if _SURROGATE.search(k):
                    return depth, k
                stack.append((v, level + 1))
        elif isinstance(item, list):
            depth = max(depth, level)
            stack.extend((v, level + 1) for v in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            return depth, item
    return depth, None


def _invalid(detail: str) -> BodyProblem:
    return BodyProblem(400, "invalid-json", "Request body is not valid JSON", detail)


def inspect_json(body: bytes) -> BodyProblem | None:
    """``None`` when ``body`` is strict JSON: UTF-8 (a BOM is tolerated), no duplicate
    object keys, no ``NaN``/``Infinity``, no lone surrogate escapes, nested at most
    :data:`MAX_JSON_DEPTH` deep. Otherwise the problem to answer with: 422
    ``duplicate-keys`` for a repeated key, 400 ``invalid-json`` for everything else."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _invalid(
            f"The body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); "
            "send the JSON encoded as UTF-8."
        )
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _Duplicate as exc:
        return BodyProblem(
            422,
            "duplicate-keys",
            "Request body repeats a key",
            f"The key {exc.key[:100]!r} appears more than once in one JSON object; "
            "send each key once.",
        )
    except _Constant as exc:
        return _invalid(f"{exc} is not a JSON value; send numbers as finite decimals.")
    except RecursionError:
        return _invalid(f"The JSON is nested too deeply (the limit is {MAX_JSON_DEPTH} levels).")
    except json.JSONDecodeError as exc:
        return _invalid(f"The body is not valid JSON ({exc.msg} at offset {exc.pos}).")
    depth, bad = _walk(value)
    if depth > MAX_JSON_DEPTH:
        return _invalid(f"The JSON is nested {depth} levels deep; the limit is {MAX_JSON_DEPTH}.")
    if bad is not None:
        where = _SURROGATE.search(bad)
        pos = where.start() if where else 0
        return _invalid(
            f"A string holds a lone surrogate escape (\\u{ord(bad[pos]):04x} at character "
            f"{pos}); text must be valid Unicode (escape astral characters as a pair)."
        )
    return None


# --------------------------------------------------------------------------- redaction

_SECRET_PATTERNS = (
    # OpenAI, Anthropic, OpenRouter, DeepSeek, ... style keys
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{20,}"),  # Google
    re.compile(r"\b(?:gsk|xai|hf|pplx|r8)_[A-Za-z0-9]{10,}"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/\-]{6,}=*"),
    re.compile(r"(?i)((?:api[-_ ]?key|x-api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"),
)
REDACTED = "[redacted]"


def redact_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every key-like string masked: provider key shapes (``sk-…``,
    ``AIza…``), bearer tokens, ``api-key: …`` values, and each of ``secrets`` verbatim."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


# --------------------------------------------------------------------------- problems


class Unauthorized(errors.RequestProblem):
    """The request to ``/v1/*`` carries no API key, or one that is not accepted. Send
    ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""

    slug = "unauthorized"
    title = "A valid API key is required"
    status = 401


class RateLimited(errors.RequestProblem):
    """Too many requests with this key in the last minute; ``Retry-After`` says when the
    next one will be accepted (``FACTDESK_RATE_LIMIT_PER_MINUTE``)."""

    slug = "rate-limited"
    title = "Too many requests"
    status = 429


class DuplicateKeys(errors.RequestProblem):
    """A JSON object in the body repeats a key; which value was meant is ambiguous, so
    the request is refused rather than silently keeping one."""

    slug = "duplicate-keys"
    title = "Request body repeats a key"
    status = 422


#: Problem types defined here (``/problems/{slug}`` documents them too).
SECURITY_PROBLEMS: tuple[type[errors.FactDeskError], ...] = (
    Unauthorized,
    RateLimited,
    DuplicateKeys,
)
