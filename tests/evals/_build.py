"""Hand-built cases and responses for the eval tests."""

from __future__ import annotations

from typing import Any

from evals.dataset import Case
from service.schemas import (
    AnalysisResponse,
    Claim,
    Flag,
    Meta,
    Reason,
    RejectedClaim,
    RemovedText,
    SentenceRef,
    Span,
    Speaker,
    SummarySentence,
    Timings,
    TokenUsage,
    Verification,
)

TEXT = (
    "Officials say 20 people died. "
    "The Red Cross said 35 people died. "
    "Rain may return on Friday, perhaps with storms. "
    "The mayor, Ana Ruiz, said the bridge would reopen."
)


def sentences(text: str = TEXT) -> list[SentenceRef]:
    """One SentenceRef per '. '-terminated sentence of ``text``."""
    out: list[SentenceRef] = []
    start = 0
    while start < len(text):
        end = text.find(". ", start)
        end = len(text) if end < 0 else end + 1
        out.append(SentenceRef(id=f"S{len(out) + 1}", start=start, end=end, paragraph=0))
        start = end + 1
    return out


def span(needle: str, text: str = TEXT) -> Span:
    """The span of the first occurrence of ``needle``."""
    i = text.index(needle)
    return Span(start=i, end=i + len(needle), text=needle)


def claim(cid: str, needle: str, name: str | None, kind: str = "person", **kw: Any) -> Claim:
    return Claim(
        id=cid,
        text=kw.pop("text", needle),
        speaker=Speaker(name=name, type=kind),
        evidence=[span(needle)],
        verification=Verification(status="supported"),
        **kw,
    )


def flag(fid: str, kind: str, needle: str, sentence_ids: list[str] | None = None) -> Flag:
    return Flag(
        id=fid,
        type=kind,
        message=kind,
        span=span(needle),
        sentence_ids=sentence_ids or [],
    )


def summary(text: str, status: str = "supported") -> SummarySentence:
    return SummarySentence(
        text=text,
        sentences=["S1"],
        verification=Verification(status=status),
    )


def response(
    *,
    claims: list[Claim] | None = None,
    rejected: int = 0,
    flags: list[Flag] | None = None,
    summary_: list[SummarySentence] | None = None,
    removed: int = 0,
    attempts: int = 1,
) -> AnalysisResponse:
    return AnalysisResponse(
        summary=summary_ or [],
        claims=claims or [],
        rejected_claims=[
            RejectedClaim(
                id=f"R{i}",
                text="x",
                speaker=Speaker(),
                reasons=[Reason(code="low-overlap", message="x")],
            )
            for i in range(rejected)
        ],
        flags=flags or [],
        sentences=sentences(),
        removed=[
            RemovedText(kind="repeated_paragraph", span=span("Officials"), duplicate_of=0)
            for _ in range(removed)
        ],
        meta=Meta(
            model="openai/local",
            prompt_version="analyze.v1",
            prompt_sha256="0" * 64,
            attempts=attempts,
            usage=TokenUsage(prompt_tokens=100, completion_tokens=20, cost_usd=0.0),
            timings_ms=Timings(total=1.0, llm=1.0),
        ),
    )


def case(**gold: Any) -> Case:
    """A case over :data:`TEXT` with the given gold."""
    return Case.model_validate({"id": "t", "title": "T", "text": TEXT, "gold": gold})


GOLD_TEXT_CASE = case(
    claims=[
        {"evidence": "20 people died", "speaker": "Officials", "speaker_type": "anonymous"},
        {"evidence": "35 people died", "speaker": "The Red Cross", "speaker_type": "organization"},
    ],
    flags=[{"type": "hedge", "evidence": "may return"}],
    summary_must_carry=[["Red Cross"]],
)
