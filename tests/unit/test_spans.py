from __future__ import annotations

from service.spans import align_quote, ground_ids
from service.support import check_support
from service.text import prepare


def test_align_exact_normalized_and_fuzzy() -> None:
    text = "Intro line.\r\n“We’re  pretty confident,” the official said. Next one."
    doc = prepare(text)
    cited = [doc.sentences[1]]

    exact = align_quote(doc, "pretty confident", cited)
    assert exact is not None and exact[1] == "exact"

    norm = align_quote(doc, '"we\'re pretty confident"', cited)
    assert norm is not None and norm[1] == "normalized"
    assert norm[0].text == "We’re  pretty confident"

    fuzzy = align_quote(doc, "We are pretty confident", cited)
    assert fuzzy is not None and fuzzy[1] == "fuzzy"

    assert align_quote(doc, "we will win the war", cited) is None
    for found in (exact, norm, fuzzy):
        assert found is not None
        span = found[0]
        assert text[span.start : span.end] == span.text


def test_ground_ids_keeps_order_and_reports_unknown() -> None:
    doc = prepare("A one. B two. C three.")
    known, unknown = ground_ids(doc, ["S3", "S1", "S9", "S1"])
    assert [s.id for s in known] == ["S1", "S3"]
    assert unknown == ["S9"]


def test_numbers_are_normalised() -> None:
    evidence = "The Pentagon estimates about 20,000 people have fled."
    article = evidence
    for claim in (
        "About 20000 people fled.",
        "About twenty thousand people fled.",
        "About 20 thousand people fled.",
    ):
        assert check_support(claim, evidence, article).verification.status == "supported", claim
    wrong = check_support("About 30,000 people fled.", evidence, article).verification
    assert wrong.status == "unsupported"
    assert wrong.reasons[0].code == "number-not-in-article"


def test_number_elsewhere_in_article_is_partial() -> None:
    article = "About 20,000 people fled. The camp holds 65,000 people."
    v = check_support("About 65,000 people fled.", "About 20,000 people fled.", article)
    assert v.verification.status == "partially_supported"
    assert v.verification.reasons[0].code == "number-not-in-evidence"


def test_invented_name_is_unsupported() -> None:
    article = "The official said the leadership had left."
    v = check_support("The official told Reuters the leadership had left.", article, article)
    assert v.verification.status == "unsupported"
    assert any(r.code == "entity-not-in-article" for r in v.verification.reasons)


def test_unrelated_statement_is_unsupported() -> None:
    article = "The official said the leadership had left."
    v = check_support("Bananas are rich in potassium and fibre.", article, article)
    assert v.verification.status == "unsupported"
