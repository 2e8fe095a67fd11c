"""Checks the model's output against the article itself.

Evidence is cited by sentence id and turned into spans here, by code; quotes are aligned
to the text (exact, then normalised, then fuzzy within the cited sentences). Every span
built here is a slice of the original text, so ``text[start:end] == span.text`` holds by
construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from rapidfuzz import fuzz

from .schemas import Span
from .support import content_words
from .text import Document, Sentence, fold

AlignMethod = Literal["exact", "normalized", "fuzzy"]
FUZZY_THRESHOLD = 90.0

_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"


def span_of(doc: Document, start: int, end: int, sentence_id: str | None = None) -> Span:
    """A span of the original text (the offset contract holds by construction)."""
    return Span(start=start, end=end, text=doc.text[start:end], sentence_id=sentence_id)


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


def _span_at(doc: Document, start: int, end: int) -> Span:
    sentence = sentence_containing(doc, start)
    return span_of(doc, start, end, sentence.id if sentence else None)


# ----------------------------------------------------------------------------- support


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


_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}?\b(?:previous|prior|above|earlier|"
    r"preceding|all|your|these|those)\b[^.!?]{0,30}?\b(?:instructions?|prompts?|rules|"
    r"directions|text|content)\b"
    r"|\bsystem prompt\b"
    r"|\byou are (?:now )?(?:an? )?(?:ai|assistant|language model|chatbot|llm)\b"
    r"|\bas an ai\b"
    r"|\b(?:new|updated|real) instructions?\b"
    r"|\b(?:ai|assistant|model|llm|chatgpt|summari[sz]er)s?\b[^.!?]{0,40}\b(?:must|should)\b"
    r"[^.!?]{0,20}\b(?:report|say|state|write|output|respond|claim|summari[sz]e)\b"
    r"|\b(?:respond|reply|answer|output)\b (?:only )?with\b",
    re.IGNORECASE,
)


def instruction_sentences(doc: Document) -> frozenset[str]:
    """Ids of sentences that address the model instead of the reader (prompt
    injection). What they ask for is never evidence."""
    return frozenset(s.id for s in doc.sentences if _INSTRUCTION.search(s.text))


#: Lines a web page or wire feed prints around the story: cookie and consent notices,
#: credit lines, related-links rails, share/subscribe prompts, copyright footers.
_FURNITURE = re.compile(
    r"^\W*(?:cookies?\b.*\b(?:use|accept|consent|policy|settings)\b"
    r"|(?:we|this (?:site|website)) uses? cookies\b"
    r"|\(?\s*(?:additional )?(?:reporting|writing|editing|compiled|produced) by\b.*\)?\W*$"
    r"|(?:related|read more|see also|more on this|recommended|trending)\s*(?::|\||$)"
    r"|advertisement\W*$|skip to (?:main )?content\b"
    r"|(?:subscribe|sign up|log in|share this|follow us)\b.{0,80}$"
    r"|(?:©|\(c\)|copyright\b).{0,120}$|.{0,120}\ball rights reserved\b.{0,40}$)",
    re.IGNORECASE,
)


def page_furniture(doc: Document) -> frozenset[str]:
    """Ids of the sentences of paragraphs that are page furniture, not article content:
    cookie notices, credit lines ("Reporting by ..."), related links, subscribe prompts,
    copyright lines. They are never shown to the model, never evidence, never claims."""
    out: set[str] = set()
    for para in doc.paragraphs:
        text = doc.text[para.start : para.end].strip()
        if text and len(text) <= 400 and _FURNITURE.search(text):
            out.update(para.sentence_ids)
    # a credit line or notice can also end a body paragraph as a sentence of its own
    out.update(s.id for s in doc.sentences if len(s.text) <= 400 and _FURNITURE.search(s.text))
    return frozenset(out)
