"""Runtime settings: one validated class, read from ``FACTDESK_*`` environment variables."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: litellm model string of the embedded default: llama.cpp's OpenAI-compatible server
#: serving the bundled GGUF under the alias ``local``.
LOCAL_MODEL = "openai/local"
#: ``local/<slug>`` selects a bundled model (service/models.py) as FACTDESK_MODEL.
LOCAL_PREFIX = "local/"
#: Default per-call timeout for the embedded model: CPU generation is slow, and the two
#: calls of an analysis queue on its one slot (a 2-core machine takes about two minutes
#: for the seed, several for a long article); a hosted model keeps ``timeout_s``'s 180.
LOCAL_TIMEOUT_S = 600.0


def _cache_home() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path.home() / ".cache"


def _default_local_model() -> str:
    from .models import DEFAULT_MODEL

    return DEFAULT_MODEL


StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "json_object"]


class Settings(BaseSettings):
    """Everything the service can be configured with; validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="FACTDESK_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    # model
    model: str = Field(LOCAL_MODEL, min_length=1, description="Any litellm model string.")
    api_base: str | None = Field(None, description="Base URL of a self-hosted endpoint.")
    api_key: SecretStr | None = Field(
        None, description="Key for the model provider; the provider's usual env vars also work."
    )
    structured_output: StructuredOutput = "auto"
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_output_tokens: int = Field(1024, ge=64, le=32_768)
    timeout_s: float = Field(
        180.0, gt=0, description=f"Per model call ({LOCAL_TIMEOUT_S:g} for the embedded model)."
    )
    transport_retries: int = Field(3, ge=0, le=10)
    retry_base_s: float = Field(0.5, ge=0)
    retry_max_wait_s: float = Field(20.0, ge=0)
    max_reasks: int = Field(2, ge=0, le=5)

    # http
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65_535)
    max_text_chars: int = Field(100_000, ge=1)
    max_body_bytes: int = Field(2_000_000, ge=1024)
    keep_alive_s: int = Field(
        75,
        ge=1,
        le=3600,
        description="Seconds an idle client connection stays open. Longer than client "
        "pools (httpx: 5 s) and load balancers (often 60 s) keep theirs, so they close "
        "first: a request sent just as the server closes an idle connection is lost.",
    )
    workers: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Worker processes of `factdesk serve`; unset: one per core. With more "
        "than one, rate limits are kept in redis_url, else in SQLite under data_dir.",
    )

    # access and limits (service/security.py)
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="SHA-256 hex digests of accepted API keys, comma-separated; empty: "
        "no key needed.",
    )
    rate_limit_per_minute: int | None = Field(
        None, ge=1, le=1_000_000, description="Requests per minute per key; unset: no limit."
    )
    log_article_text: bool = Field(
        False, description="Put the article text in the request log line (off: never)."
    )

    # storage and queue (service/storage, service/jobs): SQLite under data_dir and an
    # in-process worker unless these name real servers
    data_dir: Path = Field(
        default_factory=lambda: Path.home() / ".local" / "share" / "factdesk",
        description="Where the embedded SQLite database and other local state live.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL (postgresql+psycopg://...); unset: SQLite in data_dir."
    )
    redis_url: str | None = Field(
        None,
        description="redis://host:port/db for the job queue and shared limits; unset: in-process.",
    )

    # jobs, limits and webhooks (service/jobs, service/storage, service/webhooks)
    queue_name: str = Field(
        "factdesk", min_length=1, max_length=100, description="Name of the job queue in Redis."
    )
    worker_concurrency: int = Field(4, ge=1, le=256, description="Items one worker runs at once.")
    job_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Longest one batch item may run (then it fails with item-timeout); a "
        "worker that dies mid-item has its item retried by another worker this long (plus "
        "20 s) after it started.",
    )
    job_max_tries: int = Field(5, ge=1, le=50, description="Runs of one batch item at most.")
    batch_max_items: int = Field(1_000, ge=1, description="Items in one batch at most.")
    result_cache: bool = Field(
        True,
        description="Answer a repeat of an analysis (same text, title, model, prompt, schema "
        "version, options, API key) from the store, with meta.cached; off: always call the "
        "model. A request can skip it with Cache-Control: no-cache.",
    )
    storage_quota_bytes: int | None = Field(
        1_000_000_000, ge=1, description="Stored bytes per API key at most; unset: no limit."
    )
    webhook_allow_private: bool = Field(
        False,
        description="Deliver webhooks to loopback, link-local and private addresses (off: "
        "refused, against SSRF).",
    )
    webhook_tries: int = Field(6, ge=1, le=20, description="Delivery attempts per webhook.")
    webhook_backoff_s: float = Field(1.0, ge=0, description="First retry delay; doubles.")
    webhook_timeout_s: float = Field(10.0, gt=0, description="Per delivery attempt.")

    # prompts
    prompt_version: str = "v2"
    prompts_dir: Path = Field(
        default_factory=lambda: Path(__file__).resolve().parent.parent / "prompts"
    )

    # the embedded local model server
    local_server: Literal["auto", "never"] = "auto"
    local_model_host: str = "127.0.0.1"
    local_model_port: int = Field(8081, ge=1, le=65_535)
    local_model: str = Field(
        default_factory=lambda: _default_local_model(),
        min_length=1,
        description="Bundled model slug (factdesk models list) or a path to a GGUF file.",
    )
    local_model_path: Path | None = Field(
        None, description="A GGUF file to serve instead of the bundled model (wins)."
    )
    model_cache: Path = Field(
        default_factory=lambda: _cache_home() / "factdesk" / "models",
        description="Where chunked bundled models are assembled and verified.",
    )
    local_model_ctx: int = Field(8192, ge=512)
    local_model_threads: int | None = Field(None, ge=1)
    local_model_startup_s: float = Field(120.0, gt=0)

    @field_validator("api_base", "database_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_digests(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        if isinstance(value, (list, tuple)):
            digests = tuple(str(v).strip().lower() for v in value)
            for d in digests:
                if not re.fullmatch(r"[0-9a-f]{64}", d):
                    raise ValueError(
                        "FACTDESK_API_KEYS holds SHA-256 hex digests of the keys (64 hex "
                        "characters each), not the keys themselves"
                    )
            return digests
        return value

    @field_validator("rate_limit_per_minute", "storage_quota_bytes", mode="before")
    @classmethod
    def _empty_is_off(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "0", "off", "none"):
            return None
        return value

    @model_validator(mode="before")
    @classmethod
    def _local_slug(cls, data: object) -> object:
        # "local/<slug>" names a bundled model: the embedded server, serving that GGUF
        if isinstance(data, dict):
            model = data.get("model")
            if isinstance(model, str) and model.startswith(LOCAL_PREFIX):
                data = {**data, "model": LOCAL_MODEL, "local_model": model[len(LOCAL_PREFIX) :]}
        return data

    @model_validator(mode="after")
    def _local_timeout(self) -> Settings:
        # the embedded server generates on this machine's CPU: unless told otherwise,
        # give its calls the time a long article takes there, not a hosted model's
        if "timeout_s" not in self.model_fields_set and self.is_local():
            object.__setattr__(self, "timeout_s", LOCAL_TIMEOUT_S)  # frozen: set once, here
        return self

    @model_validator(mode="after")
    def _prompts_exist(self) -> Settings:
        if not self.prompts_dir.is_dir():
            raise ValueError(f"FACTDESK_PROMPTS_DIR {self.prompts_dir} is not a directory")
        return self

    @property
    def local_api_base(self) -> str:
        """Base URL of the embedded llama.cpp server."""
        return f"http://{self.local_model_host}:{self.local_model_port}/v1"

    def is_local(self, model: str | None = None) -> bool:
        """True when ``model`` (default: the configured one) is the embedded default."""
        return (model or self.model) == LOCAL_MODEL and self.api_base in (None, self.local_api_base)

    def model_label(self, model: str | None = None) -> str:
        """How ``model`` is reported (``meta.model``, eval reports): the bundled model's
        ``local/<slug>`` (or file name) for the embedded default, else the model string."""
        model = model or self.model
        if not self.is_local(model):
            return model
        choice = str(self.local_model_path) if self.local_model_path else self.local_model
        return LOCAL_PREFIX + Path(choice).name if "/" in choice else LOCAL_PREFIX + choice

    def api_base_for(self, model: str) -> str | None:
        """The endpoint a call to ``model`` goes to (``None``: the provider's default)."""
        if model == LOCAL_MODEL and self.api_base is None:
            return self.local_api_base
        if model == self.model:
            return self.api_base
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (a FastAPI dependency; tests override it)."""
    return Settings()
