"""The offset contract, property-tested: for every span FactDesk returns,
``text[start:end] == span.text`` on the text exactly as sent.

Generated text mixes curly and straight quotes, CRLF and other line breaks, emoji and
other astral characters, combining marks, RTL scripts and repeated sentences.
10,000 generated cases in all (3,000 + 3,000 + 2,000 + 2,000).
"""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline import analyze
from service.schemas import AnalysisRequest
from service.settings import Settings
from service.spans import align_quote, find_in_sentences
from service.text import prepare
from tests.conftest import assert_offset_contract
from tests.fakes import FakeLLM

WORDS = [
    "The",
    "official",
    "said",
    "people",
    "20,000",
    "may",
    "Baghuz",
    "U.S.",
    "Gen.",
    "café",
    "cafe\u0301",
    "naïve",
    "Zoë",
    "שלום",
    "مرحبا",
    "日本語",
    "👍🏽",
    "🇺🇳",
    "𝔘𝔫𝔦",
    "e\u0301\u0301",
    "Ａ",
    "ß",
    "İstanbul",
    "20 000",
    "½",
    "a.m.",
    "1e309",
]
PUNCT = [".", ",", "!", "?", ";", ":", "…", "“", "”", "‘", "’", '"', "'", "(", ")", "—", "-"]
SPACE = [" ", " ", " ", "\n", "\r\n", "\n\n", "\r\n\r\n", "\t", "\u00a0", "\u2028", "  "]

fragment = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(PUNCT),
    st.sampled_from(SPACE),
    st.text(min_size=1, max_size=3),
)


@st.composite
def articles(draw: st.DrawFn) -> str:
    parts = draw(st.lists(fragment, min_size=1, max_size=60))
    text = "".join(parts)
    if draw(st.booleans()) and text.strip():
        # repeated sentences and paragraphs, as syndicated copy often has
        text = text + draw(st.sampled_from(["\n\n", "\r\n", " "])) + text
    return text


MARKS = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
SAFE_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


def _stripped(q: str) -> str:
    """A quote without surrounding quotation marks and whitespace."""
    q = q.strip()
    while q and (q[0] in MARKS or q[0].isspace()):
        q = q[1:]
    while q and (q[-1] in MARKS or q[-1].isspace()):
        q = q[:-1]
    return q


def _perturb(s: str, how: int) -> str:
    if how == 0:
        return s
    if how == 1:
        return s.replace("’", "'").replace("“", '"').replace("”", '"')
    if how == 2:
        return " ".join(s.split()).upper()
    return s[1:-1] if len(s) > 2 else s


def props(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@props(3000)
@given(articles())
def test_prepare_spans_are_exact(text: str) -> None:
    doc = prepare(text)
    last_end = 0
    for s in doc.sentences:
        assert text[s.start : s.end] == s.text
        assert s.text.strip() == s.text and s.text
        assert s.start >= last_end
        last_end = s.end
    for r in doc.removed:
        assert text[r.start : r.end] == r.text


@props(3000)
@given(articles(), st.data())
def test_aligned_quotes_are_exact(text: str, data: st.DataObject) -> None:
    doc = prepare(text)
    if not doc.sentences:
        return
    i = data.draw(st.integers(0, len(text) - 1))
    j = data.draw(st.integers(i + 1, len(text)))
    quote = _perturb(text[i:j], data.draw(st.integers(0, 3)))
    cited = data.draw(st.lists(st.sampled_from(doc.sentences), max_size=3))
    found = align_quote(doc, quote, cited)
    if found is not None:
        span, method = found
        assert text[span.start : span.end] == span.text
        if method == "exact":
            assert span.text == _stripped(quote)


@props(2000)
@given(articles(), st.data())
def test_found_cues_are_exact(text: str, data: st.DataObject) -> None:
    doc = prepare(text)
    if not doc.sentences:
        return
    sentence = data.draw(st.sampled_from(doc.sentences))
    a = data.draw(st.integers(0, len(sentence.text) - 1))
    b = data.draw(st.integers(a + 1, len(sentence.text)))
    span = find_in_sentences(
        doc, _perturb(sentence.text[a:b], data.draw(st.integers(0, 2))), [sentence]
    )
    if span is not None:
        assert text[span.start : span.end] == span.text


@props(2000)
@given(articles(), st.data())
def test_whole_pipeline_holds_the_contract(text: str, data: st.DataObject) -> None:
    if not text.strip():
        return
    doc = prepare(text)
    ids = [s.id for s in doc.sentences] + ["S12345", "S99999"]
    cite = st.lists(st.sampled_from(ids), min_size=1, max_size=3)
    snippet = st.one_of(
        st.none(),
        st.text(max_size=20),
        st.sampled_from(WORDS),
        st.just(text[: max(1, len(text) // 3)]),
    )
    reply = {
        "summary": [{"text": data.draw(SAFE_TEXT), "sentences": data.draw(cite)}],
        "claims": [
            {
                "text": data.draw(SAFE_TEXT),
                "speaker": data.draw(snippet),
                "speaker_type": "unknown",
                "cue": None,
                "sentences": data.draw(cite),
                "quote": data.draw(snippet),
            }
            for _ in range(data.draw(st.integers(0, 3)))
        ],
        "flags": [
            {
                "type": "hedge",
                "sentences": data.draw(cite),
                "cue": data.draw(st.sampled_from(WORDS)),
            }
        ],
    }
    result = asyncio.run(
        analyze(AnalysisRequest(text=text), Settings(), FakeLLM(json.dumps(reply)))
    )
    assert_offset_contract(text, result.model_dump(mode="json"))
