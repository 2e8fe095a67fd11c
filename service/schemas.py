"""The public API contract: request and response models of ``/v1/analyses``.

These are separate from the model-facing schema (:mod:`service.llm_output`): the model
cites sentence ids, this contract carries verified character spans.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"

SpeakerType = Literal["person", "organization", "anonymous", "outlet", "document", "unknown"]
VerdictStatus = Literal["supported", "partially_supported", "unsupported"]
FlagType = Literal[
    "hedge",
    "estimate",
    "conflicting_figures",
    "anonymous_source",
    "second_hand",
    "unverified",
]
Origin = Literal["llm", "rules", "both"]
SummaryOrigin = Literal["llm", "rules"]
Polarity = Literal["affirmed", "negated"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _seed_text() -> str:
    """The seed article for the OpenAPI example, when the shared data is beside the repo."""
    path = Path(__file__).resolve().parents[2] / "shared/data/seed/baghuz-voa-2019-03.txt"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return (
            "Initial estimates from the United Nations and SDF officials suggest the total "
            "may be even higher, perhaps closer to 25,000."
        )


class AnalysisOptions(_Strict):
    """Per-request knobs."""

    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Any litellm model string; default: the server's FACTDESK_MODEL.",
        examples=["openai/local", "openai/gpt-4o-mini"],
    )
    summary_sentences: int = Field(3, ge=1, le=10, description="Summary length in sentences.")
    verify_with_model: bool = Field(
        False,
        description="Ask the model (one extra call) to judge claims the rule checks leave "
        "partially supported. It can only make a verdict stricter.",
    )


class AnalysisRequest(_Strict):
    """An article to analyse. ``text`` is analysed exactly as sent; all offsets index it."""

    text: str = Field(..., description="The article text (plain text).")
    title: str | None = Field(None, max_length=1_000)
    url: str | None = Field(None, max_length=2_048)
    published_at: datetime | None = None
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)
    callback_url: str | None = Field(
        None,
        max_length=2_048,
        description="http(s) URL to POST the stored analysis to (signed; see "
        "`FactDesk-Signature`). Loopback and private addresses are refused.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Waiting for Final Nail in Islamic State Caliphate's Coffin",
                    "text": _seed_text(),
                    "options": {"summary_sentences": 3},
                }
            ]
        },
    )


class Span(_Strict):
    """Characters ``[start, end)`` of the request text; ``text == request.text[start:end]``."""

    start: int = Field(..., ge=0)
    end: int = Field(..., ge=0)
    text: str
    sentence_id: str | None = Field(None, description="The sentence this span lies in.")


class Reason(_Strict):
    """Why a verdict is what it is, in words an editor can read."""

    code: str = Field(..., examples=["number-not-in-evidence"])
    message: str


class Verification(_Strict):
    """Verdict from code checks against the article, never from the model alone."""

    status: VerdictStatus
    reasons: list[Reason] = Field(default_factory=list)


class Speaker(_Strict):
    """Who asserted a claim: the name as the text writes it ("he", "the official") and,
    when that mention refers to a speaker named earlier, the resolved name and the span
    of the mention that names them."""

    name: str | None = None
    type: SpeakerType = "unknown"
    resolved: str | None = Field(
        None, description='The named speaker a pronoun or nominal refers to ("he" -> who).'
    )
    resolved_span: Span | None = Field(None, description="The mention that names them.")


class Claim(_Strict):
    """A check-worthy claim, who asserted it, and where the article says so."""

    id: str
    text: str
    speaker: Speaker
    cue: str | None = Field(None, description='Reporting cue, e.g. "said", "estimates".')
    evidence: list[Span] = Field(..., description="The cited sentences, as spans.")
    quote: Span | None = Field(None, description="The direct quote, aligned to the text.")
    flags: list[str] = Field(default_factory=list, description="Ids of flags on this claim.")
    verification: Verification
    origin: Origin = "llm"
    polarity: Polarity = Field(
        "affirmed",
        description='"negated" when the source denies or disbelieves the claim text '
        '("do not believe", "denied"): the text alone states the opposite of the source.',
    )


class RejectedClaim(_Strict):
    """A claim the model proposed that could not be grounded or supported."""

    id: str
    text: str
    speaker: Speaker
    cue: str | None = None
    cited_sentences: list[str] = Field(default_factory=list)
    quote: str | None = None
    evidence: list[Span] = Field(default_factory=list)
    reasons: list[Reason]
    origin: Origin = "llm"

    @classmethod
    def of(cls, claim: Claim, reasons: list[Reason]) -> RejectedClaim:
        """``claim``, checked and found wanting for ``reasons``."""
        return cls(
            id=claim.id,
            text=claim.text,
            speaker=claim.speaker,
            cue=claim.cue,
            cited_sentences=[e.sentence_id for e in claim.evidence if e.sentence_id],
            quote=claim.quote.text if claim.quote else None,
            evidence=claim.evidence,
            reasons=reasons,
            origin=claim.origin,
        )


class SummarySentence(_Strict):
    text: str
    sentences: list[str] = Field(..., description="Ids of the article sentences it rests on.")
    evidence: list[Span] = Field(default_factory=list)
    verification: Verification
    origin: SummaryOrigin = Field(
        "llm", description='"llm": written by the model; "rules": an article sentence.'
    )


class Flag(_Strict):
    """Something uncertain an editor must know about, anchored in the text."""

    id: str
    type: FlagType
    message: str
    span: Span | None = None
    sentence_ids: list[str] = Field(default_factory=list)
    origin: Origin = "llm"


class FigureOut(_Strict):
    """A number in the article: what it counts, who gives it, and any conflict."""

    id: str
    span: Span
    value: float
    counted: str | None = None
    source: str | None = None
    time: str | None = None
    approximate: bool = False
    conflict_flag: str | None = Field(
        None, description="Id of the conflicting_figures flag this figure belongs to."
    )


class SentenceRef(_Strict):
    id: str
    start: int
    end: int
    paragraph: int


class RemovedText(_Strict):
    """Input text left out of the analysis (a repeated paragraph, caption or title)."""

    kind: str
    span: Span
    duplicate_of: int = Field(..., description="Start offset of the first occurrence.")


class TokenUsage(_Strict):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = Field(None, description="null when the provider's price is unknown.")


class Timings(_Strict):
    total: float
    llm: float


class Component(_Strict):
    """A learned component that took part in the analysis, with its weights' identity."""

    version: str
    sha256: str


class Meta(_Strict):
    model: str
    prompt_version: str
    prompt_sha256: str
    schema_version: str = SCHEMA_VERSION
    attempts: int = Field(..., description="Model calls made (1 + re-asks).")
    usage: TokenUsage
    timings_ms: Timings
    warnings: list[str] = Field(default_factory=list)
    language: str | None = Field(
        None, description="Detected language of the text (ISO 639-1); null: no confident guess."
    )
    components: dict[str, Component] = Field(
        default_factory=dict,
        description="Learned components used (name -> weights version and SHA-256).",
    )
    cached: bool = Field(
        False,
        description="True when this answer is a stored result for the same text, model, "
        "prompt, schema version and options: no model call was made for it.",
    )


class ClaimMark(_Strict):
    """An editor's mark on a claim: confirmed or disputed, by whom and when."""

    claim_id: str
    status: Literal["confirmed", "disputed"]
    note: str | None = None
    editor: str | None = Field(None, description="The name the editor gave.")
    key_id: str | None = Field(None, description="First 12 hex digits of the API key's digest.")
    marked_at: datetime


class AnalysisResponse(_Strict):
    """The analysis. Every span satisfies ``request.text[start:end] == text``."""

    id: str | None = Field(
        None, description="The stored analysis (GET /v1/analyses/{id}); unguessable."
    )
    summary: list[SummarySentence]
    claims: list[Claim]
    rejected_claims: list[RejectedClaim]
    flags: list[Flag]
    figures: list[FigureOut] = Field(default_factory=list)
    rejected_summary: list[SummarySentence] = Field(
        default_factory=list,
        description=(
            "Model-written summary sentences not shown, with reasons: they failed"
            " verification, or only repeat a caption or a heading."
        ),
    )
    sentences: list[SentenceRef]
    removed: list[RemovedText] = Field(default_factory=list)
    meta: Meta
    marks: list[ClaimMark] = Field(
        default_factory=list, description="Editors' marks on claims (stored analyses)."
    )


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, object]] | None = None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model: str | None = None
    detail: str | None = None
