"""Merge the model's grounded output with the deterministic analyzers' findings.

- Hedges, estimates, second-hand reporting, anonymous sourcing and figure conflicts found
  by rules become flags (``origin: "rules"``; ``"both"`` when the model raised the same).
- Attributions the model missed become claims with ``origin: "rules"``, so an editor never
  loses a quoted claim because the model skipped it; model claims that match an
  attribution become ``origin: "both"``.
- The speaker of every claim is checked: named near the evidence, or matching the
  attribution the rules found there; otherwise ``speaker-not-found`` or
  ``speaker-mismatch``.
- Flags attach to every claim whose evidence shares a sentence with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .analyzers import Attribution, Findings, TextSpan, UncertaintyCue
from .schemas import (
    Claim,
    FigureOut,
    Flag,
    FlagType,
    Polarity,
    Reason,
    Span,
    Speaker,
    VerdictStatus,
    Verification,
)
from .support import content_words, stricter, words
from .text import Document, Sentence
from .verify import sentence_containing, sentence_span, span_of, speaker_found

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


def _span(doc: Document, t: TextSpan, sentence_id: str | None) -> Span:
    return span_of(doc, t.start, t.end, sentence_id)


def _overlaps(a: Span | TextSpan, b: Span | TextSpan) -> bool:
    return a.start < b.end and b.start < a.end


def _inside(inner: TextSpan, outer: TextSpan) -> bool:
    """``inner`` lies within ``outer`` and is strictly smaller."""
    return (
        outer.start <= inner.start
        and inner.end <= outer.end
        and (inner.end - inner.start) < (outer.end - outer.start)
    )


def _downgrade(v: Verification, status: VerdictStatus, reason: Reason) -> Verification:
    return stricter(v, Verification(status=status, reasons=[reason]))


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
            _span(doc, cue.span, cue.sentence_id),
            [cue.sentence_id],
        )
    for conflict in findings.conflicts:
        parts = [f"{f.span.text} ({f.source or 'unattributed'})" for f in conflict.figures]
        first = conflict.figures[0]
        add(
            "conflicting_figures",
            f"different figures for {conflict.quantity}: " + " vs ".join(parts),
            _span(doc, first.span, first.sentence_id),
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
                _span(doc, att.source, att.sentence_ids[0] if att.sentence_ids else None),
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
                _span(doc, anchor, sid),
                att.sentence_ids,
            )
        if reported & set(att.sentence_ids):
            add(
                "unverified",
                "anonymous and second-hand: not independently verified in the article",
                _span(doc, anchor, sid),
                att.sentence_ids,
            )
    return flags


def _same_flag(a: Flag, b: Flag) -> bool:
    if a.type != b.type:
        return False
    if a.span is not None and b.span is not None and _overlaps(a.span, b.span):
        return True
    return a.type in ("anonymous_source", "unverified", "conflicting_figures") and bool(
        set(a.sentence_ids) & set(b.sentence_ids)
    )


def merge_flags(model_flags: Sequence[Flag], rule_flags: Sequence[Flag]) -> list[Flag]:
    """Union of model and rule flags; one flag raised by both becomes ``origin: both``.
    Ids are assigned ``F1..Fn`` in order of position in the text."""
    merged = [f.model_copy() for f in model_flags]
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


def _speaker_matches(name: str | None, att: Attribution) -> bool:
    if not name:
        return False
    ours = content_words(name)
    theirs = content_words(
        " ".join(x for x in (att.speaker_name, att.source and att.source.text) if x)
    )
    return bool(ours & theirs)


def _matching_attribution(claim: Claim, attributions: Sequence[Attribution]) -> Attribution | None:
    cited = {e.sentence_id for e in claim.evidence}
    best: tuple[float, Attribution] | None = None
    for att in attributions:
        if not cited & set(att.sentence_ids):
            continue
        if claim.quote is not None and _overlaps(claim.quote, att.content):
            return att
        words = content_words(claim.text)
        score = len(words & content_words(att.content.text)) / len(words) if words else 0.0
        if score >= 0.3 and (best is None or score > best[0]):
            best = (score, att)
    return best[1] if best else None


def check_speaker(
    doc: Document, claim: Claim, match: Attribution | None, attributions: Sequence[Attribution]
) -> Verification:
    """The claim's verification after checking its speaker against the text and the
    attributions found by rules (``speaker-not-found`` / ``speaker-mismatch``)."""
    v = claim.verification
    name = claim.speaker.name
    if not name or claim.speaker.type == "outlet":
        return v
    if match is not None and _speaker_matches(name, match):
        return v
    cited: list[Sentence] = [
        s for s in (doc.sentence(e.sentence_id or "") for e in claim.evidence) if s is not None
    ]
    if speaker_found(doc, name, cited):
        return v
    cited_ids = {s.id for s in cited}
    others = [a for a in attributions if cited_ids & set(a.sentence_ids) and a.speaker_name]
    if others:
        who = others[0].speaker_name
        return _downgrade(
            v,
            "partially_supported",
            Reason(
                code="speaker-mismatch",
                message=f"the article attributes this to {who!r}, not {name!r}",
            ),
        )
    return _downgrade(
        v,
        "partially_supported",
        Reason(code="speaker-not-found", message=f"{name!r} is not named near the evidence"),
    )


_QUOTE_TRIM = "\"'“”‘’«» ,"


def _quote_span(doc: Document, t: TextSpan, sentence_id: str) -> Span:
    """The quoted words without their quotation marks and trailing comma."""
    start, end = t.start, t.end
    while start < end and doc.text[start] in _QUOTE_TRIM:
        start += 1
    while end > start and doc.text[end - 1] in _QUOTE_TRIM:
        end -= 1
    return span_of(doc, start, end, sentence_id) if end > start else _span(doc, t, sentence_id)


#: Reporting verbs that deny or disbelieve their content ("denied that ...").
_DENYING = frozenset(
    {
        "deny", "denied", "denies", "denying", "reject", "rejected", "rejects", "dismiss",
        "dismissed", "dismisses", "dispute", "disputed", "disputes", "refute", "refuted",
        "refutes", "doubt", "doubted", "doubts", "contest", "contested", "rebut", "rebutted",
    }
)  # fmt: skip
_NEGATORS = frozenset({"not", "n't", "never", "no", "nor", "cannot"})


def cue_negates(cue: str | None) -> bool:
    """True when a reporting cue denies or disbelieves what it introduces ("do not
    believe", "denied", "did not say", "rejected claims that")."""
    if not cue:
        return False
    tokens = words(cue)
    return any(t in _NEGATORS or t in _DENYING for t in tokens)


def polarity_of(cue: str | None, text: str) -> Polarity:
    """``negated`` when the cue negates and the claim text does not carry the negation
    itself: read alone, such a text states the opposite of what its source said."""
    if not cue_negates(cue):
        return "affirmed"
    own = set(words(text))
    return "affirmed" if own & (_NEGATORS | _DENYING) else "negated"


def attribution_speaker(doc: Document, att: Attribution) -> Speaker:
    """The speaker of an attribution: the name as the text writes it (the proper name
    of an appositive source, else the source phrase: "he", "the official"), plus the
    speaker it resolves to (name and mention span) when it refers to one named earlier."""
    own = att.speaker_name or (att.source.text if att.source else None)
    if att.linked_to is None or att.speaker_name is None:
        return Speaker(name=own, type=att.speaker_type)
    mention: Span | None = None
    written = own
    if att.resolved is not None:
        where = sentence_containing(doc, att.resolved.start)
        mention = _span(doc, att.resolved, where.id if where else None)
        if att.source is not None and not _inside(att.resolved, att.source):
            written = att.source.text  # "he": another mention names the speaker
    return Speaker(
        name=written, type=att.speaker_type, resolved=att.speaker_name, resolved_span=mention
    )


_REFERRING = frozenset(["he", "she", "they", "we", "it", "i"])


def _resolve(doc: Document, speaker: Speaker, att: Attribution) -> Speaker:
    """``speaker`` with the attribution's resolved name when the model wrote the same
    pronoun or phrase the text does ("he" of "he said")."""
    if speaker.resolved or not speaker.name or att.source is None:
        return speaker
    name = speaker.name.casefold()
    if name != att.source.text.casefold() and name not in _REFERRING:
        return speaker
    found = attribution_speaker(doc, att)
    if found.resolved is None:
        return speaker
    return speaker.model_copy(
        update={"resolved": found.resolved, "resolved_span": found.resolved_span}
    )


def _rule_claim(doc: Document, att: Attribution, claim_id: str) -> Claim | None:
    text = att.content.text.strip().strip("\"'“”‘’ ,")
    if text.lower().startswith("that "):
        text = text[5:]
    if len(text.split()) < MIN_RULE_CLAIM_WORDS:
        return None
    sentences = [s for s in (doc.sentence(i) for i in att.sentence_ids) if s is not None]
    if not sentences:
        return None
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
        verification=Verification(
            status="supported",
            reasons=[
                Reason(
                    code="extracted-from-text",
                    message="the article's own words, attributed by rule",
                )
            ],
        ),
        origin="rules",
    )


def _figures(doc: Document, findings: Findings, flags: Sequence[Flag]) -> list[FigureOut]:
    conflict_flags = [f for f in flags if f.type == "conflicting_figures"]
    in_conflict: dict[tuple[int, int], str] = {}
    for conflict in findings.conflicts:
        first = conflict.figures[0]
        for flag in conflict_flags:
            if flag.span is not None and _overlaps(flag.span, first.span):
                for fig in conflict.figures:
                    in_conflict[(fig.span.start, fig.span.end)] = flag.id
    return [
        FigureOut(
            id=f"N{i}",
            span=_span(doc, f.span, f.sentence_id),
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
    flags = merge_flags(model_flags, _rule_flags(doc, findings, instructions))
    claims: list[Claim] = []
    matched: set[str] = set()
    for claim in model_claims:
        match = _matching_attribution(claim, findings.attributions)
        updated = claim.model_copy(deep=True)
        if match is not None and not _speaker_matches(claim.speaker.name, match):
            # the parse found who says it; a model's pick from a list (often "the article
            # itself") is weaker evidence than the sentence's own reporting clause
            updated.speaker = attribution_speaker(doc, match)
            updated.verification = Verification(
                status=claim.verification.status,
                reasons=[
                    *claim.verification.reasons,
                    Reason(
                        code="speaker-from-text",
                        message=f"speaker taken from the sentence: {updated.speaker.name!r}"
                        + (
                            f" (the model said {claim.speaker.name!r})"
                            if claim.speaker.name
                            else ""
                        ),
                    ),
                ],
            )
        if updated.speaker.type == "outlet" and not updated.speaker.name and findings.byline:
            # the text's own voice is its author's
            updated.speaker = Speaker(name=findings.byline, type="outlet")
        updated.verification = check_speaker(doc, updated, match, findings.attributions)
        cue = claim.cue or (match.cue.text if match is not None and match.cue else None)
        updated.polarity = polarity_of(cue, claim.text)
        if match is not None:
            updated.speaker = _resolve(doc, updated.speaker, match)
            # the claim also covers attributions nested in the matched one
            matched.update(
                a.id
                for a in findings.attributions
                if a.id == match.id or _inside(a.content, match.content)
            )
            updated.origin = "both"
        claims.append(updated)
    index = next_claim_index
    for att in findings.attributions:
        if att.id in matched or blocked & set(att.sentence_ids):
            continue
        if att.cue is not None and att.cue.text.lower() in _NON_CLAIM_CUES:
            continue
        if any(o.id != att.id and _inside(att.content, o.content) for o in findings.attributions):
            continue  # the enclosing attribution carries this content
        rule_claim = _rule_claim(doc, att, f"C{index}")
        if rule_claim is not None:
            claims.append(rule_claim)
            index += 1
    for claim in claims:
        cited = {e.sentence_id for e in claim.evidence if e.sentence_id}
        claim.flags = [f.id for f in flags if cited & set(f.sentence_ids)]
    return Merged(claims, flags, _figures(doc, findings, flags))
