"""Grounding: the model's id-cited output turned into verified spans of the article.

Sentence ids become spans; quotes are aligned to the text; a summary sentence or claim
whose wording echoes the prompt ("S4: ...") is cleaned of the id; and the evidence of each
statement is the cited sentences plus the article sentences that match it best, so a
faithful sentence is not rejected because the model cited the wrong neighbour. Support
is judged by :func:`service.support.check_support`; anything unsupported goes to
``rejected`` with its reasons.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .llm_output import LLMAnalysis, LLMClaim, LLMFlag, LLMSummarySentence
from .schemas import (
    Claim,
    Flag,
    Reason,
    RejectedClaim,
    RemovedText,
    Speaker,
    SummarySentence,
    Verification,
)
from .spans import (
    align_quote,
    article_wording,
    find_in_sentences,
    ground_ids,
    sentence_span,
    span_of,
)
from .support import RANK, check_support, content_words, numbers, stricter
from .text import DISPLAY_ROLES, Document, Sentence, fold

_FLAG_MESSAGES = {
    "hedge": "hedged wording: the text does not state this as fact",
    "estimate": "an estimate or approximate figure",
    "conflicting_figures": "the article gives different figures for the same quantity",
    "anonymous_source": "attributed to an unnamed source",
    "second_hand": "relayed second-hand from another source",
    "unverified": "not independently verified in the article",
}


#: Sentence ids the model echoed into its own text ("S4: ...", "(S4)", "[S4, S5]").
_ECHOED_IDS = re.compile(
    r"[\[(]?\bS[1-9][0-9]{0,4}(?:\s*[,/&]\s*S[1-9][0-9]{0,4})*\b[\])]?\s*:?\s*"
)
#: How many best-matching article sentences are tried as evidence.
RETRIEVED = 2
#: Claims on the same sentence sharing this share of content words are one claim.
NEAR_DUPLICATE = 0.7


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def strip_echoed_ids(text: str) -> str:
    """``text`` without the sentence ids a model copied from the prompt into it."""
    cleaned = _ECHOED_IDS.sub(" ", text)
    return " ".join(cleaned.split()) or text.strip()


class EvidenceIndex:
    """The article's sentences with their content words and each word's rarity (idf),
    built once per analysis, to find the sentences that best match a statement."""

    def __init__(self, doc: Document, blocked: frozenset[str] = frozenset()) -> None:
        self.sentences = [s for s in doc.sentences if s.id not in blocked]
        self.words = [content_words(s.text) for s in self.sentences]
        df = Counter(w for ws in self.words for w in ws)
        n = len(self.sentences)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}

    def top(self, statement: str, k: int = RETRIEVED) -> list[Sentence]:
        """The ``k`` sentences sharing the most idf-weighted content words with
        ``statement`` (none sharing any word), best first; ties go to the earlier one."""
        wanted = content_words(statement)
        scored = [
            (math.fsum(self.idf[w] for w in wanted & ws), -i) for i, ws in enumerate(self.words)
        ]
        best = sorted((x for x in scored if x[0] > 0), reverse=True)[:k]
        return [self.sentences[-i] for _, i in best]


@dataclass(frozen=True)
class Grounded:
    """The verified analysis before the metadata is attached."""

    summary: list[SummarySentence]
    claims: list[Claim]
    rejected: list[RejectedClaim]
    flags: list[Flag]
    warnings: list[str]


_Statement = TypeVar("_Statement", LLMClaim, LLMSummarySentence)


def _in_article_wording(doc: Document, raw: _Statement, cited: Sequence[Sentence]) -> _Statement:
    """``raw`` with the cited sentences' own text where the model copied them but for
    whitespace, quote marks or case (a copy is shown as the article writes it)."""
    wording = article_wording(doc, raw.text, cited)
    return raw if wording is None else raw.model_copy(update={"text": wording})


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


#: A claim must say something beyond its speaker and reporting verb.
MIN_CLAIM_CONTENT_WORDS = 3
_CUE_WORDS = frozenset(
    {"said", "says", "say", "told", "tell", "report", "reports", "reported", "added", "stated",
     "announced", "estimated", "estimates", "claimed", "claims", "tweeted", "wrote", "noted",
     "warned", "warn", "warns", "according", "referred", "suggest", "suggests", "believe",
     "believes", "cautioned", "explained", "argued", "insisted", "confirmed", "denied"}
)  # fmt: skip


def not_a_claim(text: str, speaker: str | None, cue: str | None) -> bool:
    """True when ``text`` carries no assertion of its own: once the speaker's words, the
    cue and reporting verbs are taken out, fewer than
    :data:`MIN_CLAIM_CONTENT_WORDS` content words remain ("a senior official said")."""
    left = content_words(text) - content_words(speaker or "") - content_words(cue or "")
    left -= {w[:6] for w in _CUE_WORDS}
    return len(left) < MIN_CLAIM_CONTENT_WORDS


def _judge(
    evidence_index: EvidenceIndex, doc: Document, text: str, cited: list[Sentence]
) -> tuple[Verification, list[Sentence]]:
    """The verdict on ``text`` against the cited sentences; when that is not
    ``supported``, against each best-matching article sentence alone, if one does better.
    Retrieved sentences are never pooled: a statement stitched from the parts of two
    sentences is not supported by either."""
    verification = check_support(text, _evidence_text(cited), doc.text).verification
    best, evidence = verification, cited
    if verification.status == "supported":
        return best, evidence
    cited_ids = {s.id for s in cited}
    for sentence in evidence_index.top(text):
        if sentence.id in cited_ids:
            continue
        other = check_support(text, sentence.text, doc.text).verification
        if RANK[other.status] < RANK[best.status]:
            best, evidence = other, [sentence]
    if evidence is cited:
        return verification, cited
    note = Reason(
        code="evidence-retrieved",
        message=f"{evidence[0].id} says this"
        + (f"; the cited {', '.join(sorted(cited_ids))} do(es) not" if cited_ids else ""),
    )
    return Verification(status=best.status, reasons=[note, *best.reasons]), evidence


def _ground_claim(
    doc: Document,
    index: int,
    raw: LLMClaim,
    blocked: frozenset[str] = frozenset(),
    evidence_index: EvidenceIndex | None = None,
) -> tuple[Claim | None, RejectedClaim | None]:
    claim_id = f"C{index}"
    evidence_index = evidence_index or EvidenceIndex(doc, blocked)
    raw = raw.model_copy(update={"text": strip_echoed_ids(raw.text)})
    speaker = Speaker(name=(raw.speaker or None), type=raw.speaker_type)
    cited, unknown = ground_ids(doc, raw.sentences)
    reasons: list[Reason] = []
    cited = _drop_instructions(cited, blocked, reasons)
    raw = _in_article_wording(doc, raw, cited)
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

    if quote_span is None and not_a_claim(raw.text, raw.speaker, raw.cue):
        return reject(
            [
                Reason(
                    code="not-a-claim",
                    message="with who spoke and the reporting verb set aside, too little is "
                    "asserted to check",
                )
            ]
        )
    verification, cited = _judge(evidence_index, doc, raw.text, cited)
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
    # no claim rests on display lines alone (text.DISPLAY_ROLES)
    if all(doc.paragraph_of(s).role in DISPLAY_ROLES for s in cited):
        role = doc.paragraph_of(cited[0]).role
        return reject(
            [
                Reason(
                    code="not-check-worthy",
                    message=f"stated only in a {role}; the claims an editor checks are "
                    "the ones the article's body reports",
                )
            ]
        )
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
    doc: Document,
    analysis: LLMAnalysis,
    limit: int,
    blocked: frozenset[str],
    evidence_index: EvidenceIndex,
) -> list[SummarySentence]:
    out: list[SummarySentence] = []
    for raw in analysis.summary[:limit]:
        raw = raw.model_copy(update={"text": strip_echoed_ids(raw.text)})
        cited, unknown = ground_ids(doc, raw.sentences)
        dropped: list[Reason] = []
        cited = _drop_instructions(cited, blocked, dropped)
        raw = _in_article_wording(doc, raw, cited)
        verification = Verification(
            status="unsupported",
            reasons=[
                *dropped,
                Reason(code="evidence-not-found", message="no usable cited sentence"),
            ],
        )
        if not cited and not dropped:
            # ids the article does not have: look for the sentence that says it
            found, cited = _judge(evidence_index, doc, raw.text, [])
            if cited:
                verification = found
        elif cited:
            verification, cited = _judge(evidence_index, doc, raw.text, cited)
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
                sentences=[s.id for s in cited] or list(raw.sentences),
                evidence=[sentence_span(doc, s) for s in cited],
                verification=verification,
            )
        )
    return out


def ground(
    doc: Document,
    analysis: LLMAnalysis,
    summary_sentences: int,
    blocked: frozenset[str] = frozenset(),
) -> Grounded:
    """Turn the model's id-cited output into verified spans; unsupported or ungroundable
    claims go to ``rejected`` with reasons."""
    warnings: list[str] = []
    evidence_index = EvidenceIndex(doc, blocked)
    if len(analysis.summary) > summary_sentences:
        warnings.append(
            f"model returned {len(analysis.summary)} summary sentences; kept the first "
            f"{summary_sentences} as requested"
        )
    claims: list[Claim] = []
    rejected: list[RejectedClaim] = []
    seen: set[str] = set()  # same text, same citations, same quote
    repeats = 0
    kept_words: list[tuple[frozenset[str], set[str]]] = []
    for i, raw in enumerate(analysis.claims, start=1):
        key = "\0".join([fold(raw.text).text, *raw.sentences, raw.quote or ""])
        # numbers are not content words: "90,000 fled" is no repeat of "20,000 fled"
        words = content_words(raw.text) | {f"#{n:g}" for n in numbers(raw.text)}
        near = any(
            sents & set(raw.sentences) and _jaccard(words, other) >= NEAR_DUPLICATE
            for sents, other in kept_words
        )
        if key in seen or near:
            repeats += 1
            continue
        seen.add(key)
        kept_words.append((frozenset(raw.sentences), words))
        claim, rejection = _ground_claim(doc, i, raw, blocked, evidence_index)
        if claim is not None:
            claims.append(claim)
        if rejection is not None:
            rejected.append(rejection)
    flags = _ground_flags(doc, analysis.flags, warnings)
    if repeats:
        warnings.append(
            f"model repeated {repeats} claim(s) (same sentence, nearly the same words); "
            "kept the first of each"
        )
    summary = _ground_summary(doc, analysis, summary_sentences, blocked, evidence_index)
    return Grounded(summary, claims, rejected, flags, warnings)


def removed_text(doc: Document) -> list[RemovedText]:
    """The repeated paragraphs left out of the analysis, as spans."""
    return [
        RemovedText(
            kind=r.kind, span=span_of(doc, r.start, r.end), duplicate_of=r.duplicate_of_start
        )
        for r in doc.removed
    ]
