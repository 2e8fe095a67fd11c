"""The article's author, from a byline ("By Daniel Reyes") near the top of the text.

An article's own assertions (the text's voice, speaker type ``outlet``) are made by its
author; naming them tells an editor whose words an unattributed claim is.
"""

from __future__ import annotations

import re

from service.text import Document

#: Paragraphs read from the top for a byline.
_HEAD_PARAGRAPHS = 4
_NAME = r"(?:[A-Z][a-z]{0,3}\.\s*)?[A-Z][\w’'\-]+(?:\s+(?:[A-Z]\.|[A-Z][\w’'\-]+)){1,3}"
_BYLINE = re.compile(
    r"^\s*(?:By|BY|by)\s+(?P<name>" + _NAME + r"(?:\s*(?:,|and|&)\s*" + _NAME + r")*)"
    r"\s*(?:[,|–—-]\s*[^.!?]{0,80})?\s*$"
)


def find_byline(doc: Document) -> str | None:
    """The author name(s) of a byline among the first paragraphs of ``doc`` (``None``
    when there is none); a byline is a short line of its own, not a sentence."""
    for para in doc.paragraphs[:_HEAD_PARAGRAPHS]:
        line = doc.text[para.start : para.end]
        if len(line) > 120:
            continue
        m = _BYLINE.match(line)
        if m is not None:
            return " ".join(m.group("name").split())
    return None
