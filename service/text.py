"""Article preparation: paragraphs and numbered sentences with offsets into the input.

Every offset produced here indexes the text exactly as the client sent it, so for any
sentence ``s``: ``doc.text[s.start:s.end] == s.text``. Normalisation (NFC, folded quotes,
collapsed whitespace, case) is only ever used for *matching*, through :func:`fold`, which
keeps a map from each folded character back to the original characters. The sentences
that are not the story (text addressed to a model, page furniture) are named here too:
:func:`instruction_sentences`, :func:`page_furniture`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import chain
from typing import Literal

_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")

_QUOTE_FOLD = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2039": "'",
    "\u203a": "'",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u2007": " ",
}


def _words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of a lexicon literal, in order."""
    return tuple(text.split())


# Words that end with a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    _words(
        """
    mr mrs ms dr prof gen sen rep reps gov lt col maj capt sgt cpl adm cmdr st jr sr rev
    hon pres supt insp det vs v etc corp co ltd bros dept univ approx est al ft mt ave
    blvd rd atty gens sens
    """
    )
)
# Only abbreviations when capitalised ("Feb. 3", but "the sun. The" ends a sentence).
_ABBREVIATIONS_CAPITALISED = frozenset(
    _words(
        """
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thurs fri sat
    sun inc
    """
    )
)
# Only abbreviations before a number ("No. 2", but "he said no. Then").
_ABBREVIATIONS_NUMERIC = frozenset(["no", "nos", "vol", "fig", "pp", "p"])
# Dotted abbreviations after which a capitalised word usually starts a new sentence.
_SENTENCE_FINAL_DOTTED = frozenset(["a.m", "p.m", "etc", "i.e", "e.g"])
_SENTENCE_STARTERS = frozenset(
    _words(
        """
    the a an he she it they we i you but and so yet this that these those there his her
    their its our in on at after before when while if as for however meanwhile
    """
    )
)
_BULLET = re.compile(r"(?:[-*\u2022\u25aa\u25cf\u2023\u2043\u00b7]|\d{1,3}[.)])\s+")
_TERMINAL = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")

_OPEN_QUOTES = "\u201c\u00ab"
# A straight double quote opens when it follows one of these (or starts the paragraph).
_OPENS_BEFORE = frozenset(" \t([{\u2014\u2013-:/")
_CLOSE_QUOTES = "\u201d\u00bb"
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*")
_NEXT_STARTS_SENTENCE = re.compile(
    r"\s+(?=[\"'\u201c\u2018(\[\u00ab]*"
    r"[A-Z0-9\u00c0-\u024f\u0370-\u1fff\u0400-\u04ff\u0590-\u06ff\u3040-\u9fff\uac00-\ud7af])"
)
# Characters the sentence splitter has to look at; it skips everything else.
_SPECIAL = re.compile('[.!?\u2026\u3002\uff01\uff1f"\u201c\u201d\u00ab\u00bb]')
# Scripts whose sentence-final marks are not followed by a space.
_CJK_END = re.compile(r"[\u3002\uff01\uff1f]")


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence: ``id`` is ``S<n>``; ``start``/``end`` index the original text."""

    id: str
    start: int
    end: int
    text: str
    paragraph: int


ParagraphRole = Literal["title", "heading", "caption", "list_item", "body"]
#: Roles of lines that display the article (headline, subheadings, bylines, photo
#: captions) rather than report it.
DISPLAY_ROLES: frozenset[ParagraphRole] = frozenset({"title", "heading", "caption"})
RemovedKind = Literal["repeated_title", "repeated_caption", "repeated_line", "repeated_paragraph"]


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A kept paragraph (one line or block of the input) with its sentences.

    ``role`` is a layout guess: ``title`` (first line, no final punctuation),
    ``heading`` (a later short line without final punctuation), ``caption`` (a line the
    source printed twice in a row, as photo captions are), ``list_item`` (a bulleted or
    numbered line; its sentences start after the marker) or ``body``.
    """

    index: int
    start: int
    end: int
    sentence_ids: tuple[str, ...]
    role: ParagraphRole = "body"


@dataclass(frozen=True, slots=True)
class Removed:
    """A paragraph dropped as a repeat of an earlier one (reported, never silent).

    ``kind`` says what was repeated:

    - ``repeated_title``: the first line (the headline) printed again;
    - ``repeated_caption``: a line printed twice in a row that reads as a sentence
      (photo captions are duplicated this way by many CMS exports);
    - ``repeated_line``: any other line repeated straight after itself;
    - ``repeated_paragraph``: a paragraph repeating an earlier, non-adjacent one.
    """

    kind: RemovedKind
    start: int
    end: int
    text: str
    duplicate_of_start: int


@dataclass(frozen=True)
class Document:
    """The prepared article: original text plus kept paragraphs and numbered sentences."""

    text: str
    paragraphs: tuple[Paragraph, ...]
    sentences: tuple[Sentence, ...]
    removed: tuple[Removed, ...]
    _by_id: dict[str, Sentence] = field(default_factory=dict, repr=False, compare=False)

    def sentence(self, sentence_id: str) -> Sentence | None:
        """The sentence with this id, or ``None`` when the id is unknown."""
        if not self._by_id:
            self._by_id.update({s.id: s for s in self.sentences})
        return self._by_id.get(sentence_id)

    def paragraph_of(self, sentence: Sentence) -> Paragraph:
        """The kept paragraph containing ``sentence``."""
        return self.paragraphs[sentence.paragraph]


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text with, for each folded character, the original span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, i: int, j: int) -> tuple[int, int]:
        """Original ``(start, end)`` covering folded characters ``[i, j)`` (``i < j``)."""
        return self.starts[i], self.ends[j - 1]


def fold(text: str, offset: int = 0, *, casefold: bool = True) -> Folded:
    """Fold ``text`` for matching: NFC, straight quotes and dashes, one space for any
    whitespace run, and (by default) case-folded. Offsets map back to ``offset + i``.
    """
    chars = set(text)
    new = chars.difference(_SEEN)
    if new:
        if len(_SEEN) + len(new) > _MAX_LEARNT:  # bounded memory, whatever is sent
            return _fold_clusters(text, offset, casefold)
        _learn(new)
    if not chars.isdisjoint(_COMBINING) or not chars.isdisjoint(_WIDENING[casefold]):
        return _fold_clusters(text, offset, casefold)
    # Without combining marks every character is a cluster of its own and, here, folds to
    # one character: only whitespace runs shrink.
    return _fold_runs(text, offset, text.translate(_FOLDED[casefold]))


def _fold_runs(text: str, offset: int, mapped: str) -> Folded:
    """:func:`fold` where every character folds to one (``mapped``, whitespace already
    spaces): only whitespace runs shrink, to their first character."""
    first = _NON_SPACE.search(text)
    if first is None:
        return Folded("", (), ())
    lo, hi = first.start(), len(text.rstrip())
    kept: list[range] = []
    for m in _SPACE_RUN.finditer(text, lo, hi):
        kept.append(range(lo, m.start() + 1))
        lo = m.end()
    kept.append(range(lo, hi))
    return Folded(
        "".join(mapped[r.start : r.stop] for r in kept),
        tuple(chain.from_iterable(range(offset + r.start, offset + r.stop) for r in kept)),
        tuple(chain.from_iterable(range(offset + r.start + 1, offset + r.stop + 1) for r in kept)),
    )


_NON_SPACE = re.compile(r"\S+")
_SPACE_RUN = re.compile(r"\s{2,}")
# What fold() knows of each character it has met: whether it is a combining mark, and
# what it folds to (by ordinal, for str.translate; only characters that change), with
# the characters that fold to more than one (those take the cluster-by-cluster fold).
# Every character is learnt at most once, and at most _MAX_LEARNT of them.
_MAX_LEARNT = 50_000
_SEEN: set[str] = set()
_COMBINING: set[str] = set()
_FOLDED: dict[bool, dict[int, str]] = {True: {}, False: {}}
_WIDENING: dict[bool, set[str]] = {True: set(), False: set()}


def _learn(chars: set[str]) -> None:
    for c in chars:
        if unicodedata.combining(c):
            _COMBINING.add(c)
        elif c.isspace():
            if c != " ":
                _FOLDED[True][ord(c)] = _FOLDED[False][ord(c)] = " "
        else:
            for casefold in (True, False):
                folded = _fold_char(c, casefold)
                if folded != c:
                    _FOLDED[casefold][ord(c)] = folded
                if len(folded) != 1:
                    _WIDENING[casefold].add(c)
    _SEEN.update(chars)


def _fold_char(c: str, casefold: bool) -> str:
    """What :func:`fold` makes of the non-space character ``c`` standing alone."""
    norm = unicodedata.normalize("NFC", _QUOTE_FOLD.get(c, c))
    if casefold:
        norm = norm.casefold()
    return "".join(_QUOTE_FOLD.get(x, x) for x in norm)


def _fold_clusters(text: str, offset: int, casefold: bool) -> Folded:
    """:func:`fold` one character cluster at a time (any text, combining marks included)."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    n = len(text)
    i = 0
    prev_space = True  # drop leading whitespace
    while i < n:
        # a cluster is one base character plus any following combining marks
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        cluster = text[i:j]
        ch = _QUOTE_FOLD.get(cluster, cluster)
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                starts.append(offset + i)
                ends.append(offset + j)
            prev_space = True
        else:
            norm = unicodedata.normalize("NFC", ch)
            if casefold:
                norm = norm.casefold()
            for c in norm:
                out.append(_QUOTE_FOLD.get(c, c))
                starts.append(offset + i)
                ends.append(offset + j)
            prev_space = False
        i = j
    if out and out[-1] == " ":
        out.pop()
        starts.pop()
        ends.pop()
    return Folded("".join(out), tuple(starts), tuple(ends))


_DEDUP_TABLE = str.maketrans(_QUOTE_FOLD)
_SPACES = re.compile(r"\s+")


def dedup_key(text: str) -> str:
    """Key under which two paragraphs count as the same printed text (same as the text
    of :func:`fold`, up to NFC composition across characters)."""
    norm = unicodedata.normalize("NFC", text).casefold().translate(_DEDUP_TABLE)
    return _SPACES.sub(" ", norm).strip()


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line, stripped of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at ``dot`` closes an abbreviation or an initial."""
    k = dot
    while k > 0 and (text[k - 1].isalpha() or text[k - 1] == "."):
        k -= 1
    word = text[k:dot]
    if not word:
        return False
    lower = word.lower()
    after = text[dot + 1 : dot + 30].lstrip(" \u00a0\"'\u201c\u2018")
    if lower in _SENTENCE_FINAL_DOTTED:  # "at 9 a.m. The vote" ends a sentence
        first = re.match(r"[A-Za-z]+", after)
        return not (
            first and first.group(0)[0].isupper() and first.group(0).lower() in _SENTENCE_STARTERS
        )
    if "." in word:  # U.S, U.N, D.C
        return True
    if len(word) == 1 and word.isupper():  # initials: J. Smith
        return True
    if lower in _ABBREVIATIONS:
        return True
    if lower in _ABBREVIATIONS_CAPITALISED:
        return word[0].isupper()
    if lower in _ABBREVIATIONS_NUMERIC:
        return bool(after[:1].isdigit())
    return False


def _split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside one paragraph ``text[start:end]``."""
    result = _split(text, start, end, track_quotes=True)
    if result is None:  # unbalanced quotes: split ignoring them
        result = _split(text, start, end, track_quotes=False) or [(start, end)]
    return result


def _split(text: str, start: int, end: int, *, track_quotes: bool) -> list[tuple[int, int]] | None:
    cuts: list[int] = []
    depth = 0
    i = start
    while i < end:
        jump = _SPECIAL.search(text, i, end)
        if jump is None:
            break
        i = jump.start()
        ch = text[i]
        if track_quotes:
            if ch in _OPEN_QUOTES or (ch == '"' and (i == start or text[i - 1] in _OPENS_BEFORE)):
                depth += 1
            elif ch in _CLOSE_QUOTES or ch == '"':
                depth = max(0, depth - 1)
        if _CJK_END.match(ch):
            j = i + 1
            while j < end and text[j] in _CLOSE_QUOTES + "\u300d\u300f)":
                j += 1
            if j < end and depth == 0:
                cuts.append(j)
            i = j
            continue
        if ch in ".!?\u2026":
            m = _SENTENCE_END.match(text, i, end)
            assert m is not None
            j = m.end()
            closes = sum(text[i:j].count(q) for q in '\u201d\u00bb"')
            d_after = max(0, depth - closes) if track_quotes else 0
            nxt = _NEXT_STARTS_SENTENCE.match(text, j, end)
            if (
                nxt is not None
                and d_after == 0
                and not (text[i] == "." and j == i + 1 and _is_abbreviation(text, i))
            ):
                cuts.append(j)
            depth = d_after
            i = j
            continue
        i += 1
    if track_quotes and depth > 0:
        return None
    spans: list[tuple[int, int]] = []
    s = start
    for c in [*cuts, end]:
        a, b = s, c
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))
        s = c
    return spans


def _role(text: str, start: int, end: int, index: int) -> ParagraphRole:
    line = text[start:end]
    if _BULLET.match(line) and end - start > 3:
        return "list_item"
    if (
        _TERMINAL.search(line) is None
        and len(line.split()) <= 20
        and re.search(r"[.!?][\"'\u201d\u2019)]*\s", line) is None
    ):
        return "title" if index == 0 else "heading"
    return "body"


def prepare(text: str) -> Document:
    """Split ``text`` into kept paragraphs and numbered sentences.

    Guarantees: offsets index ``text`` unchanged; sentence ids are ``S1..Sn`` in reading
    order; a paragraph whose folded text repeats an earlier kept paragraph is dropped and
    listed in ``removed`` with its :class:`Removed` kind (it gets no sentence ids); each
    kept paragraph carries a layout ``role``; sentences of a list item start after its
    bullet or number. Never raises on any ``str``.
    """
    seen: dict[str, int] = {}
    paragraphs: list[Paragraph] = []
    roles: list[ParagraphRole] = []
    sentences: list[Sentence] = []
    removed: list[Removed] = []
    prev_key: str | None = None
    first_key: str | None = None
    for start, end in _lines(text):
        key = dedup_key(text[start:end])
        if key in seen:
            kind: RemovedKind
            if key == first_key and _TERMINAL.search(text[start:end]) is None:
                kind = "repeated_title"
            elif key == prev_key and _TERMINAL.search(text[start:end]) is not None:
                kind = "repeated_caption"
                for k, para in enumerate(paragraphs):
                    if para.start == seen[key]:
                        roles[k] = "caption"
            elif key == prev_key:
                kind = "repeated_line"
            else:
                kind = "repeated_paragraph"
            removed.append(Removed(kind, start, end, text[start:end], seen[key]))
            prev_key = key
            continue
        seen[key] = start
        prev_key = key
        if first_key is None:
            first_key = key
        index = len(paragraphs)
        role = _role(text, start, end, index)
        body = start
        if role == "list_item":
            m = _BULLET.match(text, start, end)
            body = m.end() if m else start
        ids: list[str] = []
        for s, e in _split_sentences(text, body, end):
            sid = f"S{len(sentences) + 1}"
            sentences.append(Sentence(sid, s, e, text[s:e], index))
            ids.append(sid)
        paragraphs.append(Paragraph(index, start, end, tuple(ids)))
        roles.append(role)
    if len(roles) == 1 and roles[0] in ("title", "heading"):
        roles[0] = "body"  # a lone line is the text itself, not its headline
    kept = tuple(
        Paragraph(p.index, p.start, p.end, p.sentence_ids, role)
        for p, role in zip(paragraphs, roles, strict=True)
    )
    return Document(text, kept, tuple(sentences), tuple(removed))


# ----------------------------------------------------------------------------- hygiene
# Sentences that are not the story: text addressed to a model, and page furniture.

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
