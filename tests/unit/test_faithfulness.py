"""Whole-summary faithfulness without citations: segmentation, retrieval, verdicts."""

from __future__ import annotations

from service.faithfulness import judge, segments

ARTICLE = (
    "Storm Ciara brought winds of up to 97mph to parts of Wales on Sunday. "
    "More than 20,000 homes lost power, Western Power Distribution said. "
    "Rail services between Cardiff and London were cancelled for the day. "
    "Forecasters said the worst of the weather may be over by Tuesday. "
    "No deaths have been reported."
)


def test_segments_keep_offsets_and_split_joined_sentences() -> None:
    for text in (
        "one thing happened . then another thing happened .",
        "One thing happened.Then another thing happened.",
        "One thing happened. Then another thing happened.",
    ):
        found = segments(text)
        assert len(found) == 2, text
        for seg in found:
            assert text[seg.start : seg.end] == seg.text


def test_segments_fold_tiny_fragments_into_the_previous_sentence() -> None:
    found = segments("The storm hit Wales on Sunday. Pictured. Trains stopped running then.")
    assert [len(s.text.split()) >= 3 for s in found] == [True, True]


def test_faithful_summary_is_supported_sentence_by_sentence() -> None:
    summary = (
        "Storm Ciara brought winds of up to 97mph to Wales. More than 20,000 homes lost power."
    )
    verdict = judge(summary, ARTICLE)
    assert verdict.faithful and verdict.status == "supported"
    assert [v.status for v in verdict.sentences] == ["supported", "supported"]
    assert verdict.reasons == ()
    first = verdict.sentences[0]
    assert any("97mph" in e.text for e in first.evidence)
    for v in verdict.sentences:
        assert summary[v.sentence.start : v.sentence.end] == v.sentence.text


def test_each_atomic_edit_makes_the_summary_unfaithful() -> None:
    edits = {
        "number": "More than 2,000 homes lost power.",
        "negation": "Rail services between Cardiff and London were not cancelled.",
        "modality": "The worst of the weather will be over by Tuesday.",
        "name": "Storm Dennis brought winds of up to 97mph to Wales.",
        "negated fact": "Several deaths have been reported.",
    }
    for name, edited in edits.items():
        verdict = judge("Storm Ciara brought winds of up to 97mph to Wales. " + edited, ARTICLE)
        assert not verdict.faithful, name
        assert verdict.sentences[0].status == "supported", name
        assert verdict.sentences[1].status != "supported", name
        assert all(r.message.startswith("sentence 2:") for r in verdict.reasons), name


def test_an_invented_detail_is_the_learned_scorers_call_and_always_shown() -> None:
    # words the article never uses are also how a faithful paraphrase looks, so the
    # scorer decides; the rule finding is reported whichever way it goes
    edited = "Rail services between Cardiff and London were cancelled after a landslide."
    verdict = judge(edited, ARTICLE).sentences[0]
    messages = " ".join(r.message for r in verdict.check.verification.reasons)
    codes = {r.code for r in verdict.check.verification.reasons}
    assert "consistency-score" in codes
    assert "invented-detail" in codes or "outweighs invented-detail" in messages
    rules = judge(edited, ARTICLE, learned=False).sentences[0]
    assert rules.status != "supported"


def test_unrelated_summary_is_unsupported_and_empty_summary_is_faithful() -> None:
    verdict = judge("Bananas are rich in potassium and fibre.", ARTICLE)
    assert verdict.status == "unsupported" and not verdict.faithful
    assert verdict.sentences[0].evidence == ()
    empty = judge("", ARTICLE)
    assert empty.faithful and empty.sentences == ()


def test_lower_cased_tokenised_summaries_are_judged() -> None:
    verdict = judge(
        "storm ciara brought winds of up to 97mph to wales . "
        "rail services between cardiff and london were cancelled .",
        ARTICLE,
    )
    assert len(verdict.sentences) == 2
    assert verdict.faithful, [r.message for r in verdict.reasons]


def test_top_k_bounds_the_evidence() -> None:
    verdict = judge("Rail services between Cardiff and London were cancelled.", ARTICLE, top_k=1)
    assert len(verdict.sentences[0].evidence) == 1
