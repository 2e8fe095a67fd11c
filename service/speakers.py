"""Who says it: every speaker check in one place.

- :func:`attribution_speaker`: the speaker of a rule-found attribution as the text writes
  it ("he", "the official"), with the earlier named mention it resolves to.
- :func:`settle`: a model claim's speaker checked against the article: the attribution
  the parse found in the cited sentences wins over the model's pick
  (``speaker-from-text``); the outlet's voice is its byline; a name that the text does not
  give near the evidence is ``speaker-not-found``, another source's sentence
  ``speaker-mismatch``; a claim whose own words name a speaker the article does not give
  for it is ``misattributed`` (unsupported); a pronoun the model copied is resolved like
  the text's; the polarity says when the cue denies what it introduces ("denied that").
"""

from __future__ import annotations

from collections.abc import Sequence

from .analyzers import Attribution, Findings
from .schemas import Claim, Polarity, Reason, Span, Speaker, VerdictStatus, Verification
from .spans import inside, overlaps, sentence_containing, text_span
from .support import content_words, stricter, words
from .text import Document, Sentence


def speaker_found(doc: Document, speaker: str, cited: Sequence[Sentence]) -> bool:
    """True when the speaker's content words occur in a cited sentence's paragraph or the
    paragraph before it (later mentions: "the official added")."""
    words = content_words(speaker)
    if not words:
        return True
    paragraphs: set[int] = set()
    for s in cited:
        paragraphs.update({s.paragraph, max(0, s.paragraph - 1)})
    context = " ".join(
        doc.text[doc.paragraphs[i].start : doc.paragraphs[i].end] for i in sorted(paragraphs)
    )
    return bool(words & content_words(context))


def speaker_matches(name: str | None, att: Attribution) -> bool:
    if not name:
        return False
    ours = content_words(name)
    theirs = content_words(
        " ".join(x for x in (att.speaker_name, att.source and att.source.text) if x)
    )
    return bool(ours & theirs)


def matching_attribution(claim: Claim, attributions: Sequence[Attribution]) -> Attribution | None:
    cited = {e.sentence_id for e in claim.evidence}
    best: tuple[float, Attribution] | None = None
    for att in attributions:
        if not cited & set(att.sentence_ids):
            continue
        if claim.quote is not None and overlaps(claim.quote, att.content):
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
    if match is not None and speaker_matches(name, match):
        return v
    cited = claim_sentences(doc, claim)
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


def _misattributes(doc: Document, claim: Claim) -> bool:
    """True when the claim's text names its (model-given) speaker as the source while the
    article does not name that speaker near the evidence."""
    name = claim.speaker.name
    if not name or claim.speaker.type == "outlet":
        return False
    own = content_words(name)
    if not own or not own <= content_words(claim.text):
        return False
    return not speaker_found(doc, name, claim_sentences(doc, claim))


def claim_sentences(doc: Document, claim: Claim) -> list[Sentence]:
    """The article sentences the claim's evidence lies in."""
    return [s for s in (doc.sentence(e.sentence_id or "") for e in claim.evidence) if s]


def _downgrade(v: Verification, status: VerdictStatus, reason: Reason) -> Verification:
    return stricter(v, Verification(status=status, reasons=[reason]))


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
        mention = text_span(doc, att.resolved, where.id if where else None)
        if att.source is not None and not inside(att.resolved, att.source):
            written = att.source.text  # "he": another mention names the speaker
    return Speaker(
        name=written, type=att.speaker_type, resolved=att.speaker_name, resolved_span=mention
    )


_REFERRING = frozenset(["he", "she", "they", "we", "it", "i"])


def resolve_speaker(doc: Document, speaker: Speaker, att: Attribution) -> Speaker:
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


def settle(doc: Document, claim: Claim, findings: Findings) -> tuple[Claim, Attribution | None]:
    """``claim`` (a copy) with its speaker, speaker verdict and polarity checked against
    the text, and the rule-found attribution it matches, if any."""
    match = matching_attribution(claim, findings.attributions)
    updated = claim.model_copy(deep=True)
    if match is not None and not speaker_matches(claim.speaker.name, match):
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
                    + (f" (the model said {claim.speaker.name!r})" if claim.speaker.name else ""),
                ),
            ],
        )
        if _misattributes(doc, claim):
            # "A banker said the talks could collapse" on a sentence in which another
            # source says it: the claim's own words put it in the wrong mouth
            updated.verification = _downgrade(
                updated.verification,
                "unsupported",
                Reason(
                    code="misattributed",
                    message=f"the claim says {claim.speaker.name!r} said this; the article "
                    f"attributes it to {updated.speaker.name!r}",
                ),
            )
    if updated.speaker.type == "outlet" and not updated.speaker.name and findings.byline:
        # the text's own voice is its author's
        updated.speaker = Speaker(name=findings.byline, type="outlet")
    updated.verification = check_speaker(doc, updated, match, findings.attributions)
    cue = claim.cue or (match.cue.text if match is not None and match.cue else None)
    updated.polarity = polarity_of(cue, claim.text)
    if match is not None:
        updated.speaker = resolve_speaker(doc, updated.speaker, match)
    return updated, match
