"""Merge the model's grounded output with the deterministic analyzers' findings.

- Hedges, estimates, second-hand reporting, anonymous sourcing and figure conflicts found
  by rules become flags (``origin: "rules"``; ``"both"`` when the model raised the same).
- Attributions the model missed become claims with ``origin: "rules"``, so an editor never
  loses a quoted claim because the model skipped it; model claims that match an
  attribution become ``origin: "both"``.
- The speaker of every claim is checked (:func:`service.speakers.settle`): named near the
  evidence, or matching the attribution the rules found there; otherwise
  ``speaker-not-found`` or ``speaker-mismatch``.
- Flags attach to every claim whose evidence shares a sentence with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .analyzers import Attribution, Findings, TextSpan, UncertaintyCue
from .analyzers.attributions import CUE_VERBS
from .schemas import (
    Claim,
    FigureOut,
    Flag,
    FlagType,
    Reason,
    RejectedClaim,
    Span,
    Speaker,
    Verification,
)
from .spans import find_in_sentences, inside, overlaps, sentence_span, span_of, text_span
from .speakers import (
    attribution_speaker,
    claim_sentences,
    polarity_of,
    settle,
    speaker_matches,
)
from .support import content_words, words
from .text import DISPLAY_ROLES, Document

_CUE_FLAG: dict[str, FlagType] = {
    "speculation": "hedge",
    "belief": "hedge",
    "condition": "hedge",
    "investigation": "hedge",
    "estimate": "estimate",
    "approximation": "estimate",
    "reported": "second_hand",
}
_CUE_MESSAGE = {
    "speculation": "speculative wording: stated as a possibility, not a fact",
    "belief": "a belief or assessment, not an established fact",
    "condition": "holds only under a condition",
    "investigation": "an open question under investigation",
    "estimate": "an estimate",
    "approximation": "an approximate figure",
    "reported": "relayed second-hand from another source",
}
#: Wording that says a claim has not been checked: allegations, refusals to comment,
#: claims "not independently verified", matters still untested.
_UNVERIFIED = re.compile(
    r"\balleg(?:e|es|ed|edly|ation|ations)\b"
    r"|\bdeclined to (?:comment|confirm|respond)\b|\bdid not (?:respond|reply) to\b"
    r"|\b(?:could|can|cannot|could not|has not|have not|had not|was not|were not|not)\s+"
    r"(?:be\s+|been\s+)?(?:independently\s+)?(?:verified|confirmed|tested|proven|corroborated)\b"
    r"|\bunconfirmed\b|\bunverified\b",
    re.IGNORECASE,
)
MIN_RULE_CLAIM_WORDS = 4
# Cues that tie a phrase to a speaker without the speaker asserting it as a claim.
_NON_CLAIM_CUES = frozenset({"referring to", "referring", "referred to", "in reference to"})


@dataclass(frozen=True)
class Merged:
    """Claims, flags and figures after merging model output with the rules."""

    claims: list[Claim]
    flags: list[Flag]
    figures: list[FigureOut]
    #: model claims the speaker checks found unsupported
    rejected: list[RejectedClaim] = field(default_factory=list)


def _rule_flags(
    doc: Document, findings: Findings, instructions: frozenset[str] = frozenset()
) -> list[Flag]:
    flags: list[Flag] = []

    def add(type_: FlagType, message: str, span: Span | None, sids: Iterable[str]) -> None:
        flags.append(
            Flag(
                id="",
                type=type_,
                message=message,
                span=span,
                sentence_ids=sorted(set(sids), key=lambda s: int(s[1:])),
                origin="rules",
            )
        )

    cue: UncertaintyCue
    for cue in findings.cues:
        add(
            _CUE_FLAG[cue.type],
            _CUE_MESSAGE[cue.type],
            text_span(doc, cue.span, cue.sentence_id),
            [cue.sentence_id],
        )
    for conflict in findings.conflicts:
        parts = [f"{f.span.text} ({f.source or 'unattributed'})" for f in conflict.figures]
        first = conflict.figures[0]
        add(
            "conflicting_figures",
            f"different figures for {conflict.quantity}: " + " vs ".join(parts),
            text_span(doc, first.span, first.sentence_id),
            [f.sentence_id for f in conflict.figures],
        )
    for sentence in doc.sentences:
        for m in _UNVERIFIED.finditer(sentence.text):
            add(
                "unverified",
                "not verified: the article reports it as alleged, unconfirmed or untested",
                span_of(doc, sentence.start + m.start(), sentence.start + m.end(), sentence.id),
                [sentence.id],
            )
            break
    for injected in (doc.sentence(i) for i in sorted(instructions, key=lambda i: int(i[1:]))):
        if injected is None:
            continue
        add(
            "unverified",
            "text addressed to an AI model (possible prompt injection): not the article's "
            "reporting, never used as evidence",
            span_of(doc, injected.start, injected.end, injected.id),
            [injected.id],
        )
    reported = {c.sentence_id for c in findings.cues if c.type == "reported"}
    seen_anon: set[tuple[str, ...]] = set()
    for att in findings.attributions:
        if att.speaker_type == "outlet" and att.linked_to is None and att.source is not None:
            # "Local media reported …": the article relays another outlet's reporting
            add(
                "second_hand",
                f"relayed from other reporting: {att.speaker_name or att.source.text}",
                text_span(doc, att.source, att.sentence_ids[0] if att.sentence_ids else None),
                att.sentence_ids,
            )
        if att.speaker_type != "anonymous":
            continue
        anchor = att.source or att.cue or att.content
        sid = att.sentence_ids[0] if att.sentence_ids else None
        if att.sentence_ids not in seen_anon:
            seen_anon.add(att.sentence_ids)
            add(
                "anonymous_source",
                f"attributed to an unnamed source: {att.speaker_name or anchor.text}",
                text_span(doc, anchor, sid),
                att.sentence_ids,
            )
        if reported & set(att.sentence_ids):
            add(
                "unverified",
                "anonymous and second-hand: not independently verified in the article",
                text_span(doc, anchor, sid),
                att.sentence_ids,
            )
    return flags


def _same_flag(a: Flag, b: Flag) -> bool:
    if a.type != b.type:
        return False
    if a.span is not None and b.span is not None and overlaps(a.span, b.span):
        return True
    return a.type in ("anonymous_source", "unverified", "conflicting_figures") and bool(
        set(a.sentence_ids) & set(b.sentence_ids)
    )


def _anonymous_flags(doc: Document, claims: list[Claim]) -> list[Flag]:
    """Anonymous-source flags for the model's claims whose speaker, after the speaker
    checks, is unnamed (a claim the checks rejected raises none)."""
    flags: list[Flag] = []
    for claim in claims:
        if claim.speaker.type != "anonymous":
            continue
        sids = [e.sentence_id for e in claim.evidence if e.sentence_id]
        anchor = claim.quote or (claim.evidence[0] if claim.evidence else None)
        if claim.speaker.name:
            anchor = (
                find_in_sentences(doc, claim.speaker.name, claim_sentences(doc, claim)) or anchor
            )
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


def _repeats(a: Flag, b: Flag) -> bool:
    def key(f: Flag) -> tuple[object, ...]:
        return (f.type, f.message, f.span, f.sentence_ids)

    return key(a) == key(b)


def merge_flags(model_flags: Sequence[Flag], rule_flags: Sequence[Flag]) -> list[Flag]:
    """Union of model and rule flags; one flag raised by both becomes ``origin: both``,
    and a model flag repeated word for word on the same span is kept once. Ids are
    assigned ``F1..Fn`` in order of position in the text."""
    merged: list[Flag] = []
    for mf in model_flags:
        if not any(_repeats(mf, m) for m in merged):
            merged.append(mf.model_copy())
    for rf in rule_flags:
        twin = next((m for m in merged if _same_flag(m, rf)), None)
        if twin is None:
            merged.append(rf.model_copy())
        elif twin.origin != rf.origin:
            twin.origin = "both"
    merged.sort(key=lambda f: (f.span.start if f.span else 0, f.type))
    for i, f in enumerate(merged, 1):
        f.id = f"F{i}"
    return merged


_QUOTE_TRIM = "\"'“”‘’«» ,"


def _quote_span(doc: Document, t: TextSpan, sentence_id: str) -> Span:
    """The quoted words without their quotation marks and trailing comma."""
    start, end = t.start, t.end
    while start < end and doc.text[start] in _QUOTE_TRIM:
        start += 1
    while end > start and doc.text[end - 1] in _QUOTE_TRIM:
        end -= 1
    return span_of(doc, start, end, sentence_id) if end > start else text_span(doc, t, sentence_id)


def _no_claim(att: Attribution, attributions: Sequence[Attribution]) -> bool:
    """True for an attribution that gives no claim an editor could check: neither
    source nor cue ("a request for comment"), or no source and a content that is another
    attribution's reporting clause ("Union representatives had not been told about the
    talks, a person close to the union said" read with "told" as its cue)."""
    if att.source is not None:
        return False
    if att.cue is None:
        return True
    return any(
        o.id != att.id
        and any(s is not None and overlaps(att.content, s) for s in (o.source, o.cue))
        for o in attributions
    )


#: Share of an attribution's content words a model claim must hold to carry it.
CARRIED = 0.8


def _carried(att: Attribution, said: Sequence[tuple[Claim, set[str]]]) -> bool:
    """True when a claim already made on the same sentence (``said``: the model's and
    the earlier rule claims, each with its content words) says the attribution's
    content, in the voice of the same speaker (or the attribution names none)."""
    words = content_words(att.content.text)
    if not words:
        return False
    for claim, claim_words in said:
        if not {e.sentence_id for e in claim.evidence} & set(att.sentence_ids):
            continue
        if len(words & claim_words) / len(words) < CARRIED:
            continue
        if att.source is None or any(
            speaker_matches(name, att) for name in (claim.speaker.name, claim.speaker.resolved)
        ):
            return True
    return False


def _rule_claim(doc: Document, att: Attribution, claim_id: str) -> Claim | None:
    text = att.content.text.strip().strip("\"'“”‘’ ,")
    if text.lower().startswith("that "):
        text = text[5:]
    if len(text.split()) < MIN_RULE_CLAIM_WORDS:
        return None
    sentences = [s for s in (doc.sentence(i) for i in att.sentence_ids) if s is not None]
    if not sentences or all(doc.paragraph_of(s).role in DISPLAY_ROLES for s in sentences):
        return None  # as for the model's claims: a headline or caption alone is no claim
    first = sentences[0].id
    return Claim(
        id=claim_id,
        text=text,
        speaker=attribution_speaker(doc, att),
        cue=att.cue.text if att.cue else None,
        polarity=polarity_of(att.cue.text if att.cue else None, text),
        evidence=[sentence_span(doc, s) for s in sentences],
        quote=_quote_span(doc, att.content, first) if att.direct_quote else None,
        flags=[],
        verification=_extracted("the article's own words, attributed by rule"),
        origin="rules",
    )


def _extracted(message: str) -> Verification:
    """The verdict on a claim the rules took word for word from the article."""
    return Verification(
        status="supported", reasons=[Reason(code="extracted-from-text", message=message)]
    )


#: A reporting verb (the attribution rules' own, and "show" of "figures show") ...
_REPORTING_WORDS = CUE_VERBS | {"show", "showed", "shown"}
#: ... or a passive agent ("was estimated at 310 million euros by the ministry").
_AGENT = re.compile(r"(?i:\baccording to\b|\bby (?:the|a|an)\b)|\bby [A-Z]")


def _outlet_figure_claims(
    doc: Document,
    findings: Findings,
    claims: Sequence[Claim],
    blocked: frozenset[str],
    index: int,
) -> list[Claim]:
    """The article's own figures that no claim carries: a body sentence that counts
    something (people, homes, money) without a source says it in the outlet's voice, and
    a figure is what an editor checks first."""
    cited = {e.sentence_id for c in claims for e in c.evidence if e.sentence_id}
    attributed = {sid for a in findings.attributions for sid in a.sentence_ids}
    out: list[Claim] = []
    seen: set[str] = set()
    for fig in findings.figures:
        sid = fig.sentence_id
        if fig.counted is None or fig.source is not None or sid in seen:
            continue
        if sid in cited or sid in attributed or sid in blocked:
            continue
        sentence = doc.sentence(sid)
        if sentence is None or doc.paragraph_of(sentence).role in DISPLAY_ROLES:
            continue
        if (
            sentence.text.rstrip(_QUOTE_TRIM).endswith("?")
            or not _REPORTING_WORDS.isdisjoint(words(sentence.text))
            or _AGENT.search(sentence.text)
        ):
            continue  # a question asserts nothing; a reporting verb: someone else's figure
        seen.add(sid)
        out.append(
            Claim(
                id=f"C{index + len(out)}",
                text=sentence.text,
                speaker=Speaker(name=findings.byline, type="outlet"),  # its author, if bylined
                evidence=[sentence_span(doc, sentence)],
                verification=_extracted(
                    "the article's own words: a figure it gives without a source"
                ),
                origin="rules",
            )
        )
    return out


def _figures(doc: Document, findings: Findings, flags: Sequence[Flag]) -> list[FigureOut]:
    conflict_flags = [f for f in flags if f.type == "conflicting_figures"]
    in_conflict: dict[tuple[int, int], str] = {}
    for conflict in findings.conflicts:
        first = conflict.figures[0]
        for flag in conflict_flags:
            if flag.span is not None and overlaps(flag.span, first.span):
                for fig in conflict.figures:
                    in_conflict[(fig.span.start, fig.span.end)] = flag.id
    return [
        FigureOut(
            id=f"N{i}",
            span=text_span(doc, f.span, f.sentence_id),
            value=f.value,
            counted=f.counted,
            source=f.source,
            time=f.time,
            approximate=f.approximate,
            conflict_flag=in_conflict.get((f.span.start, f.span.end)),
        )
        for i, f in enumerate(findings.figures, 1)
    ]


def merge(
    doc: Document,
    findings: Findings,
    model_claims: Sequence[Claim],
    model_flags: Sequence[Flag],
    next_claim_index: int,
    blocked: frozenset[str] = frozenset(),
    instructions: frozenset[str] = frozenset(),
) -> Merged:
    """Claims (model, then rule-found ones the model missed), merged flags attached to
    claims, and figures. Verdicts only ever get stricter here, never looser. Sentences
    in ``blocked`` give no claims; those in ``instructions`` (text addressed to a model)
    are flagged ``unverified`` so an editor sees them."""
    claims: list[Claim] = []
    matched: set[str] = set()
    rejected: list[RejectedClaim] = []
    for claim in model_claims:
        updated, match = settle(doc, claim, findings)
        if updated.verification.status == "unsupported":
            rejected.append(RejectedClaim.of(claim, updated.verification.reasons))
            continue
        if match is not None:
            # the claim also covers attributions nested in the matched one
            matched.update(
                a.id
                for a in findings.attributions
                if a.id == match.id or inside(a.content, match.content)
            )
            updated.origin = "both"
        claims.append(updated)
    flags = merge_flags(
        [*model_flags, *_anonymous_flags(doc, claims)], _rule_flags(doc, findings, instructions)
    )
    index = next_claim_index
    said = [(c, content_words(c.text)) for c in claims]  # grows with the rule claims
    for att in findings.attributions:
        if att.id in matched or blocked & set(att.sentence_ids):
            continue
        if att.cue is not None and att.cue.text.lower() in _NON_CLAIM_CUES:
            continue
        if any(o.id != att.id and inside(att.content, o.content) for o in findings.attributions):
            continue  # the enclosing attribution carries this content
        if _no_claim(att, findings.attributions) or _carried(att, said):
            continue
        rule_claim = _rule_claim(doc, att, f"C{index}")
        if rule_claim is not None:
            claims.append(rule_claim)
            said.append((rule_claim, content_words(rule_claim.text)))
            index += 1
    claims.extend(_outlet_figure_claims(doc, findings, claims, blocked, index))
    for claim in claims:
        cited = {e.sentence_id for e in claim.evidence if e.sentence_id}
        claim.flags = [f.id for f in flags if cited & set(f.sentence_ids)]
    return Merged(claims, flags, _figures(doc, findings, flags), rejected)
