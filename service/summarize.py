"""The summary an editor gets: the model's verified sentences, completed from the article.

A model-written sentence is shown only when the verifier finds it ``supported``; the
others stay visible in ``rejected_summary`` with their reasons. When fewer sentences than
asked survive, the article's own central sentences fill the summary (``origin: "rules"``):
body sentences (no titles, captions or list items, none addressed to the model), scored by
how much of the article's vocabulary they share (idf-weighted cosine to the whole text)
with a bonus for the news lead, picked greedily so that each adds new words (maximal
marginal relevance), and shown in reading order after the model's sentences. The summary
never has fewer sentences than asked unless the article has fewer usable ones.

A model sentence that only repeats a caption or a heading (a byline, a subheading) is not
shown either, though true: it is page furniture, not what the article reports. It goes to
``rejected_summary`` with the reason ``restates-heading``. The title restated stays: a
headline is the article's own one-line summary.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .schemas import Reason, SummarySentence, Verification
from .spans import sentence_span
from .support import check_support, stem, words
from .text import DISPLAY_ROLES, Document, Sentence

#: Verdicts a model-written summary sentence needs to be shown in ``summary``.
SHOWN = frozenset({"supported"})
_MIN_WORDS = 6
_MAX_WORDS = 60
_LEAD_BONUS = 0.15
_REDUNDANCY = 0.6
#: Share of a model sentence's (stemmed) words found in one caption or heading at or above
#: which the model sentence only restates it.
_HEADING_OVERLAP = 0.8
#: Display lines a summary sentence may not merely repeat: all but the title.
_FURNITURE_ROLES = DISPLAY_ROLES - {"title"}


def _usable(doc: Document, sentence: Sentence, blocked: frozenset[str]) -> bool:
    if sentence.id in blocked or doc.paragraph_of(sentence).role != "body":
        return False
    n = len(sentence.text.split())
    return _MIN_WORDS <= n <= _MAX_WORDS and not sentence.text.rstrip().endswith("?")


def _vector(tokens: Sequence[str], idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(t for t in tokens if t in idf)
    return {t: c * idf[t] for t, c in counts.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = math.fsum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(math.fsum(v * v for v in a.values()))
    nb = math.sqrt(math.fsum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def central_sentences(
    doc: Document, n: int, blocked: frozenset[str] = frozenset(), avoid: Sequence[str] = ()
) -> list[Sentence]:
    """Up to ``n`` central body sentences of ``doc`` (none in ``blocked`` or ``avoid``),
    in reading order. Deterministic."""
    usable = [s for s in doc.sentences if _usable(doc, s, blocked) and s.id not in avoid]
    if n <= 0 or not usable:
        return []
    tokens = [[w for w in words(s.text) if len(w) > 2] for s in doc.sentences]
    df = Counter(w for ts in tokens for w in set(ts))
    total = len(doc.sentences)
    idf = {w: math.log((total + 1) / (c + 0.5)) for w, c in df.items()}
    by_id = {s.id: _vector(t, idf) for s, t in zip(doc.sentences, tokens, strict=True)}
    whole = _vector([w for ts in tokens for w in ts], idf)
    first = usable[0].start
    span = max(1, doc.sentences[-1].end - first)
    score = {
        s.id: _cosine(by_id[s.id], whole) + _LEAD_BONUS * (1 - (s.start - first) / span)
        for s in usable
    }
    chosen: list[Sentence] = []
    avoided = [by_id[i] for i in avoid if i in by_id]
    pool = list(usable)
    while pool and len(chosen) < n:

        def gain(s: Sentence) -> float:
            seen = [by_id[c.id] for c in chosen] + avoided
            overlap = max((_cosine(by_id[s.id], v) for v in seen), default=0.0)
            return score[s.id] - _REDUNDANCY * overlap

        best = max(pool, key=lambda s: (gain(s), -s.start))
        chosen.append(best)
        pool.remove(best)
    return sorted(chosen, key=lambda s: s.start)


def extractive(doc: Document, sentence: Sentence) -> SummarySentence:
    """``sentence`` as a summary sentence in its own words (``origin: "rules"``)."""
    check = check_support(sentence.text, sentence.text, doc.text).verification
    reasons = [Reason(code="extracted-from-text", message="an article sentence, verbatim")]
    return SummarySentence(
        text=" ".join(sentence.text.split()),
        sentences=[sentence.id],
        evidence=[sentence_span(doc, sentence)],
        verification=Verification(status=check.status, reasons=reasons + check.reasons),
        origin="rules",
    )


def restates_heading(doc: Document, sentence: SummarySentence) -> Sentence | None:
    """The caption or heading sentence that ``sentence`` does no more than repeat, if any:
    most of its words (stemmed) are that sentence's, whatever it cites."""
    own = {stem(w) for w in words(sentence.text)}
    if not own:
        return None
    for s in doc.sentences:
        if doc.paragraph_of(s).role not in _FURNITURE_ROLES:
            continue
        if len(own & {stem(w) for w in words(s.text)}) / len(own) >= _HEADING_OVERLAP:
            return s
    return None


def _heading_only(doc: Document, sentence: SummarySentence, heading: Sentence) -> SummarySentence:
    role = doc.paragraph_of(heading).role
    reason = Reason(
        code="restates-heading",
        message=f"repeats {heading.id}, a {role}, and says nothing the article's body reports",
    )
    verification = sentence.verification.model_copy(
        update={"reasons": [reason, *sentence.verification.reasons]}
    )
    return sentence.model_copy(update={"verification": verification})


def complete(
    doc: Document,
    model_sentences: Sequence[SummarySentence],
    n: int,
    blocked: frozenset[str] = frozenset(),
) -> tuple[list[SummarySentence], list[SummarySentence]]:
    """(summary, rejected): the model's sentences whose verdict is in :data:`SHOWN`, then
    central article sentences up to ``n`` in all; the model's other sentences go to
    ``rejected`` with their reasons (a caption or heading restated: :func:`restates_heading`)."""
    shown: list[SummarySentence] = []
    rejected: list[SummarySentence] = []
    for s in model_sentences:
        heading = restates_heading(doc, s)
        if heading is not None:
            rejected.append(_heading_only(doc, s, heading))
        elif s.verification.status in SHOWN and len(shown) < n:
            shown.append(s)
        elif s.verification.status not in SHOWN:
            rejected.append(s)
    covered = [i for s in shown for i in s.sentences]
    fill = central_sentences(doc, n - len(shown), blocked, covered)
    return shown + [extractive(doc, s) for s in fill], rejected
