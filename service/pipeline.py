"""One analysis: prepare -> prompt -> model -> ground and verify -> response.

Each stage is a plain function of its inputs; only the ``llm`` argument does I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from . import learned
from .analyzers import Findings
from .analyzers import analyze as find_all
from .judge import second_opinion
from .llm import LLM, complete_structured
from .llm_output import LLMAnalysis, LLMClaim, LLMFlag, base_schema, response_schema
from .merge import merge
from .prompts import PromptTemplate, load_prompt, render_analyze
from .schemas import (
    SCHEMA_VERSION,
    AnalysisRequest,
    AnalysisResponse,
    Claim,
    Component,
    Flag,
    Meta,
    Reason,
    RejectedClaim,
    RemovedText,
    SentenceRef,
    Speaker,
    SummarySentence,
    Timings,
    TokenUsage,
    Verification,
)
from .settings import Settings
from .support import check_support, stricter
from .text import Document, Sentence, fold, prepare
from .verify import (
    align_quote,
    find_in_sentences,
    ground_ids,
    instruction_sentences,
    sentence_span,
    span_of,
)

_FLAG_MESSAGES = {
    "hedge": "hedged wording: the text does not state this as fact",
    "estimate": "an estimate or approximate figure",
    "conflicting_figures": "the article gives different figures for the same quantity",
    "anonymous_source": "attributed to an unnamed source",
    "second_hand": "relayed second-hand from another source",
    "unverified": "not independently verified in the article",
}


@dataclass(frozen=True)
class Grounded:
    """The verified analysis before the metadata is attached."""

    summary: list[SummarySentence]
    claims: list[Claim]
    rejected: list[RejectedClaim]
    flags: list[Flag]
    warnings: list[str]


def _evidence_text(cited: Sequence[Sentence]) -> str:
    return " ".join(s.text for s in cited)


def _ground_flags(doc: Document, flags: Sequence[LLMFlag], warnings: list[str]) -> list[Flag]:
    out: list[Flag] = []
    for raw in flags:
        cited, unknown = ground_ids(doc, raw.sentences)
        span = find_in_sentences(doc, raw.cue, cited) if cited else None
        if span is None:
            where = ", ".join(raw.sentences)
            warnings.append(
                f"model flag {raw.type!r} dropped: cue {raw.cue[:60]!r} not found in {where}"
                + (f" (unknown ids {', '.join(unknown)})" if unknown else "")
            )
            continue
        out.append(
            Flag(
                id=f"F{len(out) + 1}",
                type=raw.type,
                message=_FLAG_MESSAGES[raw.type],
                span=span,
                sentence_ids=[s.id for s in cited],
                origin="llm",
            )
        )
    return out


def _drop_instructions(
    cited: list[Sentence], blocked: frozenset[str], reasons: list[Reason]
) -> list[Sentence]:
    injected = [s.id for s in cited if s.id in blocked]
    if injected:
        reasons.append(
            Reason(
                code="cites-instruction",
                message=f"{', '.join(injected)} address(es) the model, not the reader; "
                "not used as evidence",
            )
        )
    return [s for s in cited if s.id not in blocked]


def _ground_claim(
    doc: Document, index: int, raw: LLMClaim, blocked: frozenset[str] = frozenset()
) -> tuple[Claim | None, RejectedClaim | None]:
    claim_id = f"C{index}"
    speaker = Speaker(name=(raw.speaker or None), type=raw.speaker_type)
    cited, unknown = ground_ids(doc, raw.sentences)
    reasons: list[Reason] = []
    cited = _drop_instructions(cited, blocked, reasons)
    if unknown:
        reasons.append(
            Reason(
                code="unknown-sentence-id",
                message=f"cited sentence(s) not in the article: {', '.join(unknown)}",
            )
        )

    def reject(extra: list[Reason]) -> tuple[None, RejectedClaim]:
        return None, RejectedClaim(
            id=claim_id,
            text=raw.text,
            speaker=speaker,
            cue=raw.cue,
            cited_sentences=list(raw.sentences),
            quote=raw.quote,
            evidence=[sentence_span(doc, s) for s in cited],
            reasons=[*reasons, *extra],
        )

    if not cited:
        return reject([Reason(code="evidence-not-found", message="no cited sentence exists")])

    quote_span = None
    if raw.quote and raw.quote.strip():
        aligned = align_quote(doc, raw.quote, cited)
        if aligned is None:
            return reject(
                [Reason(code="quote-not-found", message="the quote does not occur in the article")]
            )
        quote_span, method = aligned
        if quote_span.sentence_id in blocked:
            return reject(
                [
                    Reason(
                        code="quote-in-instruction",
                        message="the quote comes from text addressed to the model",
                    )
                ]
            )
        if method != "exact":
            reasons.append(
                Reason(code=f"quote-aligned-{method}", message=f"quote matched ({method})")
            )
        if quote_span.sentence_id and all(s.id != quote_span.sentence_id for s in cited):
            extra = doc.sentence(quote_span.sentence_id)
            if extra is not None:
                cited = sorted([*cited, extra], key=lambda s: s.start)

    evidence_text = _evidence_text(cited)
    verification = check_support(raw.text, evidence_text, doc.text).verification
    if unknown:
        verification = stricter(
            verification, Verification(status="partially_supported", reasons=reasons[:1])
        )
    elif reasons:
        verification = Verification(
            status=verification.status, reasons=[*reasons, *verification.reasons]
        )
    if verification.status == "unsupported":
        return reject(verification.reasons)
    return (
        Claim(
            id=claim_id,
            text=raw.text,
            speaker=speaker,
            cue=raw.cue,
            evidence=[sentence_span(doc, s) for s in cited],
            quote=quote_span,
            flags=[],
            verification=verification,
            origin="llm",
        ),
        None,
    )


def _ground_summary(
    doc: Document, analysis: LLMAnalysis, limit: int, blocked: frozenset[str]
) -> list[SummarySentence]:
    out: list[SummarySentence] = []
    for raw in analysis.summary[:limit]:
        cited, unknown = ground_ids(doc, raw.sentences)
        dropped: list[Reason] = []
        cited = _drop_instructions(cited, blocked, dropped)
        if not cited:
            verification = Verification(
                status="unsupported",
                reasons=[
                    *dropped,
                    Reason(code="evidence-not-found", message="no usable cited sentence"),
                ],
            )
        else:
            verification = check_support(raw.text, _evidence_text(cited), doc.text).verification
            if dropped:
                verification = stricter(
                    verification, Verification(status="partially_supported", reasons=dropped)
                )
            if unknown:
                verification = stricter(
                    verification,
                    Verification(
                        status="partially_supported",
                        reasons=[
                            Reason(
                                code="unknown-sentence-id",
                                message="cited sentence(s) not in the article: "
                                + ", ".join(unknown),
                            )
                        ],
                    ),
                )
        out.append(
            SummarySentence(
                text=raw.text,
                sentences=list(raw.sentences),
                evidence=[sentence_span(doc, s) for s in cited],
                verification=verification,
            )
        )
    return out


def _anonymous_flags(doc: Document, claims: list[Claim]) -> list[Flag]:
    """Anonymous-source flags for claims the model attributed to an unnamed speaker."""
    flags: list[Flag] = []
    for claim in claims:
        if claim.speaker.type != "anonymous":
            continue
        sids = [e.sentence_id for e in claim.evidence if e.sentence_id]
        anchor = claim.quote or (claim.evidence[0] if claim.evidence else None)
        if claim.speaker.name:
            cited = [s for s in (doc.sentence(i) for i in sids) if s is not None]
            anchor = find_in_sentences(doc, claim.speaker.name, cited) or anchor
        flags.append(
            Flag(
                id="",
                type="anonymous_source",
                message=f"attributed to an unnamed source: {claim.speaker.name or 'unnamed'}",
                span=anchor,
                sentence_ids=sids,
                origin="llm",
            )
        )
    return flags


def ground(
    doc: Document,
    analysis: LLMAnalysis,
    summary_sentences: int,
    blocked: frozenset[str] = frozenset(),
) -> Grounded:
    """Turn the model's id-cited output into verified spans; unsupported or ungroundable
    claims go to ``rejected`` with reasons."""
    warnings: list[str] = []
    if len(analysis.summary) > summary_sentences:
        warnings.append(
            f"model returned {len(analysis.summary)} summary sentences; kept the first "
            f"{summary_sentences} as requested"
        )
    claims: list[Claim] = []
    rejected: list[RejectedClaim] = []
    seen: set[str] = set()  # same text, same citations, same quote
    repeats = 0
    for i, raw in enumerate(analysis.claims, start=1):
        key = "\0".join([fold(raw.text).text, *raw.sentences, raw.quote or ""])
        if key in seen:
            repeats += 1
            continue
        seen.add(key)
        claim, rejection = _ground_claim(doc, i, raw, blocked)
        if claim is not None:
            claims.append(claim)
        if rejection is not None:
            rejected.append(rejection)
    flags = _ground_flags(doc, analysis.flags, warnings) + _anonymous_flags(doc, claims)
    if repeats:
        warnings.append(f"model repeated {repeats} claim(s) word for word; kept the first of each")
    summary = _ground_summary(doc, analysis, summary_sentences, blocked)
    return Grounded(summary, claims, rejected, flags, warnings)


def removed_text(doc: Document) -> list[RemovedText]:
    """The repeated paragraphs left out of the analysis, as spans."""
    return [
        RemovedText(
            kind=r.kind, span=span_of(doc, r.start, r.end), duplicate_of=r.duplicate_of_start
        )
        for r in doc.removed
    ]


#: Articles at least this long are prepared and verified on a worker thread, so one long
#: article does not stall the event loop (and every other request) for its CPU time.
OFFLOAD_CHARS = 20_000
T = TypeVar("T")


async def _cpu(fn: Callable[[], T], offload: bool) -> T:
    return await asyncio.to_thread(fn) if offload else fn()


def _prepare(text: str) -> tuple[Document, Findings]:
    doc = prepare(text)
    return doc, find_all(doc)


async def analyze(
    request: AnalysisRequest,
    settings: Settings,
    llm: LLM,
    prompt: PromptTemplate | None = None,
) -> AnalysisResponse:
    """Analyse one article. Raises :class:`~service.errors.ModelError` subclasses when the
    model side fails; everything returned satisfies the offset contract."""
    t0 = time.perf_counter()
    model = request.options.model or settings.model
    prompt = prompt or load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    big = len(request.text) >= OFFLOAD_CHARS
    doc, findings = await _cpu(lambda: _prepare(request.text), big)
    n_summary = request.options.summary_sentences
    schema = response_schema(n_summary, [s.id for s in doc.sentences])
    messages = render_analyze(prompt, doc, title=request.title, summary_sentences=n_summary)

    t_llm = time.perf_counter()
    result = await complete_structured(
        llm,
        model=model,
        messages=messages,
        output_model=LLMAnalysis,
        schema=schema,
        max_reasks=settings.max_reasks,
    )
    llm_ms = (time.perf_counter() - t_llm) * 1000

    blocked = instruction_sentences(doc)
    grounded = await _cpu(lambda: ground(doc, result.value, n_summary, blocked), big)
    merged = await _cpu(
        lambda: merge(
            doc, findings, grounded.claims, grounded.flags, len(result.value.claims) + 1, blocked
        ),
        big,
    )
    claims, rejected = merged.claims, list(grounded.rejected)
    attempts, usage = result.attempts, result.usage
    if request.options.verify_with_model:
        t_judge = time.perf_counter()
        judged = await second_opinion(
            llm,
            model=model,
            prompt=load_prompt(settings.prompts_dir, "judge", "v1"),
            claims=claims,
            max_reasks=settings.max_reasks,
        )
        llm_ms += (time.perf_counter() - t_judge) * 1000
        claims, rejected = judged.claims, rejected + judged.rejected
        attempts += judged.attempts
        usage.add(judged.usage)
    warnings = list(grounded.warnings)
    if doc.removed:
        warnings.insert(
            0, f"{len(doc.removed)} repeated paragraph(s) left out of the analysis (see removed)"
        )
    if blocked:
        warnings.append(
            f"{', '.join(sorted(blocked, key=lambda i: int(i[1:])))} read as instructions to "
            "an AI model (possible prompt injection); never used as evidence"
        )
    if not doc.sentences:
        warnings.append("no sentences found in the text")
    return AnalysisResponse(
        summary=grounded.summary,
        claims=claims,
        rejected_claims=rejected,
        flags=merged.flags,
        figures=merged.figures,
        sentences=[
            SentenceRef(id=s.id, start=s.start, end=s.end, paragraph=s.paragraph)
            for s in doc.sentences
        ],
        removed=removed_text(doc),
        meta=Meta(
            model=model,
            prompt_version=prompt.label,
            prompt_sha256=prompt.sha256(base_schema()),
            schema_version=SCHEMA_VERSION,
            attempts=attempts,
            usage=TokenUsage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cost_usd=usage.cost_usd,
            ),
            timings_ms=Timings(
                total=round((time.perf_counter() - t0) * 1000, 2), llm=round(llm_ms, 2)
            ),
            warnings=warnings,
            components={
                c.name: Component(version=c.version, sha256=c.sha256)
                for c in learned.loaded().values()
            },
        ),
    )
