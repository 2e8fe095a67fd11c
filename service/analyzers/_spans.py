"""Small span helpers shared by the analyzers (all offsets index ``doc.text``)."""

from __future__ import annotations

import re
from bisect import bisect_right

from service.analyzers.findings import TextSpan
from service.text import Document, Sentence

_TRIM = " \t\r\n\u00a0,;:"
WORD = re.compile(r"[^\W_][\w'’.\-]*", re.UNICODE)


def make_span(text: str, start: int, end: int, strip: str = _TRIM) -> TextSpan | None:
    """``TextSpan`` over ``text[start:end]`` with ``strip`` characters trimmed from both
    ends; ``None`` when nothing is left."""
    while start < end and text[start] in strip:
        start += 1
    while end > start and text[end - 1] in strip:
        end -= 1
    if end <= start:
        return None
    return TextSpan(start, end, text[start:end])


class SentenceIndex:
    """Finds the sentences a character range overlaps."""

    def __init__(self, doc: Document) -> None:
        self._sentences = doc.sentences
        self._starts = [s.start for s in doc.sentences]

    def at(self, pos: int) -> Sentence | None:
        """The sentence containing ``pos`` (or the last one starting before it)."""
        i = bisect_right(self._starts, pos) - 1
        return self._sentences[i] if i >= 0 else None

    def covering(self, start: int, end: int) -> tuple[str, ...]:
        """Ids of the sentences overlapping ``[start, end)``, in order."""
        i = max(0, bisect_right(self._starts, start) - 1)
        ids: list[str] = []
        while i < len(self._sentences) and self._sentences[i].start < end:
            s = self._sentences[i]
            if s.end > start:
                ids.append(s.id)
            i += 1
        return tuple(ids)


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of a lexicon literal, in order."""
    return tuple(text.split())
