"""Spans of the original text: the one way a response points into the article.

Evidence is cited by sentence id and turned into spans here, by code; quotes are aligned
to the text (exact, then normalised, then fuzzy within the cited sentences). Every span
built here is a slice of the original text, so ``text[start:end] == span.text`` holds by
construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from rapidfuzz import fuzz

from .analyzers import TextSpan
from .schemas import Span
from .text import Document, Folded, Sentence, fold

AlignMethod = Literal["exact", "normalized", "fuzzy"]
FUZZY_THRESHOLD = 90.0

_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
#: Folded quote marks as one class: a model writing ‘…’ for the article's “…” (as JSON
#: strings invite) still copies the article.
_ONE_QUOTE = str.maketrans({"'": '"'})
#: Statements shorter than this (non-space characters) are never re-worded.
WORDING_MIN_CHARS = 20


def span_of(doc: Document, start: int, end: int, sentence_id: str | None = None) -> Span:
    """A span of the original text (the offset contract holds by construction)."""
    return Span(start=start, end=end, text=doc.text[start:end], sentence_id=sentence_id)


def text_span(doc: Document, t: TextSpan, sentence_id: str | None) -> Span:
    """The response span of an analyzer's span."""
    return span_of(doc, t.start, t.end, sentence_id)


def overlaps(a: Span | TextSpan, b: Span | TextSpan) -> bool:
    """The two spans share at least one character."""
    return a.start < b.end and b.start < a.end


def inside(inner: TextSpan, outer: TextSpan) -> bool:
    """``inner`` lies within ``outer`` and is strictly smaller."""
    return (
        outer.start <= inner.start
        and inner.end <= outer.end
        and (inner.end - inner.start) < (outer.end - outer.start)
    )


def sentence_span(doc: Document, sentence: Sentence) -> Span:
    """The span of a whole sentence."""
    return span_of(doc, sentence.start, sentence.end, sentence.id)


def ground_ids(doc: Document, ids: Iterable[str]) -> tuple[list[Sentence], list[str]]:
    """Known sentences (in reading order, no repeats) and the unknown ids, in input order."""
    known: dict[str, Sentence] = {}
    unknown: list[str] = []
    for sid in ids:
        sentence = doc.sentence(sid)
        if sentence is None:
            if sid not in unknown:
                unknown.append(sid)
        else:
            known[sid] = sentence
    return sorted(known.values(), key=lambda s: s.start), unknown


def sentence_containing(doc: Document, offset: int) -> Sentence | None:
    """The kept sentence that contains character ``offset``, if any."""
    for sentence in doc.sentences:
        if sentence.start <= offset < sentence.end:
            return sentence
    return None


def _strip_quote(quote: str) -> str:
    q = quote.strip()
    while q and q[0] in _QUOTE_MARKS:
        q = q[1:].lstrip()
    while q and q[-1] in _QUOTE_MARKS:
        q = q[:-1].rstrip()
    return q


def align_quote(
    doc: Document, quote: str, cited: Sequence[Sentence]
) -> tuple[Span, AlignMethod] | None:
    """Find ``quote`` in the article: exact, then after folding quotes/whitespace/case
    (cited sentences first, then anywhere), then fuzzily within the cited sentences.
    Returns the aligned span of the original text and how it was found, or ``None``."""
    q = _strip_quote(quote)
    if not q:
        return None
    regions: list[tuple[int, int]] = []
    if cited:
        regions.append((min(s.start for s in cited), max(s.end for s in cited)))
    regions.append((0, len(doc.text)))

    for lo, hi in regions:
        at = doc.text.find(q, lo, hi)
        if at != -1:
            return _span_at(doc, at, at + len(q)), "exact"

    fq = fold(q).text
    if not fq:
        return None
    for lo, hi in regions:
        folded = fold(doc.text[lo:hi], lo)
        at = folded.text.find(fq)
        if at != -1:
            start, end = folded.original_span(at, at + len(fq))
            return _span_at(doc, start, end), "normalized"

    if cited:
        lo, hi = regions[0]
        folded = fold(doc.text[lo:hi], lo)
        if folded.text:
            match = fuzz.partial_ratio_alignment(fq, folded.text, score_cutoff=FUZZY_THRESHOLD)
            if match is not None and match.dest_end > match.dest_start:
                start, end = folded.original_span(match.dest_start, match.dest_end)
                return _span_at(doc, start, end), "fuzzy"
    return None


def _squeezed(folded: Folded) -> tuple[str, list[int]]:
    """``folded``'s text without whitespace and with one quote mark, and for each of its
    characters the index in ``folded.text``."""
    keep = [i for i, ch in enumerate(folded.text) if not ch.isspace()]
    return "".join(folded.text[i] for i in keep).translate(_ONE_QUOTE), keep


def _inside_word(text: str, at: int) -> bool:
    """True when offset ``at`` falls between two letters or digits of ``text``."""
    return 0 < at < len(text) and text[at - 1].isalnum() and text[at].isalnum()


def article_wording(
    doc: Document, text: str, cited: Sequence[Sentence], *, cut: bool = False
) -> str | None:
    """The article's own text for ``text`` when ``text`` copies a stretch of the cited
    sentences but for whitespace, quote marks and case ("VOA newsreports" for "VOA news
    reports", ‘…’ for “…”); ``None`` when it is no such copy, or already verbatim.

    ``cut``: ``text`` stopped at a length limit, perhaps inside a word ("…, the tera"):
    its last word is left out of the match and the copy runs on to the end of the
    sentence it stopped in."""
    if not cited:
        return None
    head = text.rstrip()
    if cut:
        head = head[: max(head.rfind(" "), 0)].rstrip()
    needle, _ = _squeezed(fold(head))
    if len(needle) < WORDING_MIN_CHARS:
        return None
    lo, hi = min(s.start for s in cited), max(s.end for s in cited)
    folded = fold(doc.text[lo:hi], lo)
    hay, keep = _squeezed(folded)
    at = hay.find(needle)
    if at == -1:
        return None
    start, end = folded.original_span(keep[at], keep[at + len(needle) - 1] + 1)
    if _inside_word(doc.text, start) or _inside_word(doc.text, end):
        return None  # "the exo" is no copy of "the exodus"
    if cut:
        end = max(end, next((s.end for s in cited if s.start <= end - 1 < s.end), end))
    wording = doc.text[start:end]
    return None if wording == text else wording


def _span_at(doc: Document, start: int, end: int) -> Span:
    sentence = sentence_containing(doc, start)
    return span_of(doc, start, end, sentence.id if sentence else None)


def find_in_sentences(doc: Document, needle: str, cited: Sequence[Sentence]) -> Span | None:
    """The first occurrence of ``needle`` (folded) inside the cited sentences."""
    fneedle = fold(needle).text
    if not fneedle:
        return None
    for s in cited:
        folded = fold(s.text, s.start)
        at = folded.text.find(fneedle)
        if at != -1:
            start, end = folded.original_span(at, at + len(fneedle))
            return span_of(doc, start, end, s.id)
    return None
