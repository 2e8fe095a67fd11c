"""Property: prepare + analyze never crash and every span holds the offset contract."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.analyzers import Findings, TextSpan, analyze
from service.text import prepare

_TOKENS = [
    "said",
    "says",
    "told",
    "according to",
    "claimed",
    "estimated",
    "warned",
    "that",
    "the official",
    "Gen.",
    "U.S.",
    "a.m.",
    "Mr.",
    "Jane Doe",
    "he",
    "she",
    "may",
    "perhaps",
    "about",
    "more than",
    "if",
    "whether",
    "1,000",
    "20,000",
    "3.5",
    "million",
    "percent",
    "$",
    "%",
    "twelve",
    "2019",
    "March 6,",
    ".",
    ",",
    ":",
    ";",
    "?",
    "!",
    "…",
    "“",
    "”",
    "‘",
    "’",
    '"',
    "'",
    "''",
    "«",
    "»",
    "(",
    ")",
    "-",
    "—",
    "\r\n",
    "\n\n",
    "\r",
    "\n",
    " ",
    "\t",
    "\u00a0",
    "\u2028",
    "😀",
    "👍🏽",
    "e\u0301",
    "A\u030a",
    "שלום",
    "مرحبا",
    "\u200f",
    "\u202e",
    "日本語。",
    "ALL CAPS SAID",
    "• ",
    "- ",
    "1) ",
]


def _spans(findings: Findings) -> list[TextSpan]:
    out: list[TextSpan] = []
    for a in findings.attributions:
        out.extend(s for s in (a.source, a.cue, a.content) if s is not None)
    out.extend(c.span for c in findings.cues)
    out.extend(f.span for f in findings.figures)
    for conflict in findings.conflicts:
        out.extend(f.span for f in conflict.figures)
    return out


def _check(text: str) -> None:
    doc = prepare(text)
    for s in doc.sentences:
        assert text[s.start : s.end] == s.text
    for r in doc.removed:
        assert text[r.start : r.end] == r.text
    findings = analyze(doc)
    ids = {s.id for s in doc.sentences}
    for span in _spans(findings):
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start : span.end] == span.text
    for a in findings.attributions:
        assert set(a.sentence_ids) <= ids
    assert findings.uncertain_sentence_ids <= ids
    assert analyze(prepare(text)) == findings  # deterministic


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), max_size=80).map(" ".join))
def test_token_soup_holds_the_offset_contract(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_holds_the_offset_contract(text: str) -> None:
    _check(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40).map("".join))
def test_tokens_without_spaces_hold_the_offset_contract(text: str) -> None:
    _check(text)
