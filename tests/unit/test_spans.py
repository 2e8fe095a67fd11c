from __future__ import annotations

from service.spans import align_quote, article_wording, ground_ids
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


ARTICLE = (
    "Headline\n\n"
    "There is little the troops can be sure of,\u00a0VOA news reports.\n\n"
    "\u201cWe have been consistently wrong, on how big this is,\u201d the official added, "
    "referring to the exodus of IS fighters, women and children from their tiny enclave."
)


def test_a_copy_of_the_article_is_given_in_the_article_wording() -> None:
    doc = prepare(ARTICLE)
    first, second = doc.sentences[1], doc.sentences[2]
    # words run together, and quote marks and case changed, by the model
    assert (
        article_wording(doc, "there is little the troops can be sure of, VOA newsreports", [first])
        == "There is little the troops can be sure of,\u00a0VOA news reports"
    )
    assert article_wording(
        doc,
        "\u2018We have been consistently wrong, on how big this is,\u2019 the official",
        [second],
    ) == ("\u201cWe have been consistently wrong, on how big this is,\u201d the official")
    # verbatim already, a paraphrase, a word changed, or too short to tell: left alone
    verbatim = "There is little the troops can be sure of"
    assert article_wording(doc, verbatim, [first]) is None
    assert article_wording(doc, "The troops can be sure of little, VOA says", [first]) is None
    assert article_wording(doc, "There is much the troops can be sure of", [first]) is None
    assert article_wording(doc, "VOA newsreports", [first]) is None
    # only the cited sentences are searched
    assert article_wording(doc, "there is little the troops can be sure of", [second]) is None


def test_a_copy_cut_at_a_length_limit_runs_on_to_the_end_of_its_sentence() -> None:
    doc = prepare(ARTICLE)
    cited = [doc.sentences[2]]
    cut = (
        "\u2018We have been consistently wrong, on how big this is,\u2019 the official added, "
        "referring to the exo"
    )
    assert article_wording(doc, cut, cited, cut=True) == doc.sentences[2].text
    # not marked as cut, it ends inside a word: no copy
    assert article_wording(doc, cut, cited) is None
    # a cut text that is no copy stays as it is
    assert (
        article_wording(doc, "Officials said they got the size of the exodus wro", cited, cut=True)
        is None
    )
