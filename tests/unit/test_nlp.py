"""The parser's coarse POS: the attribute ruler's patterns, applied without its matcher."""

from __future__ import annotations

from service import nlp


def test_coarse_pos_is_the_attribute_rulers(seed_text: str) -> None:
    pipe = nlp.pipeline()
    ruler = pipe.get_pipe("attribute_ruler")
    paragraphs = [p for p in seed_text.split("\n") if p.strip()] + [
        "There is nothing anyone could do, but it's what they'd said they'd do.",
        "Whether or not he goes, she will — unless it rains — ask him to stay.",
    ]
    checked = 0
    for doc in pipe.pipe(paragraphs):
        nlp.coarse_pos()(doc)
        ours = [t.pos_ for t in doc]
        ruler(doc)
        assert ours == [t.pos_ for t in doc], doc.text
        checked += len(doc)
    assert checked > 500


def test_parse_many_sets_coarse_pos() -> None:
    (doc,) = nlp.parse_many(["Officials said the bridge would reopen."])
    assert [t.pos_ for t in doc] == ["NOUN", "VERB", "DET", "NOUN", "AUX", "VERB", "PUNCT"]
