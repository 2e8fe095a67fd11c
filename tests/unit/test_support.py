"""Claim support checks, one by one, and atomic edits that word overlap cannot see."""

from __future__ import annotations

import pytest

from service.support import (
    antonyms,
    check_rules,
    check_support,
    content_words,
    dropped_qualifiers,
    modality_flips,
    negation_flips,
    numbers,
    proper_nouns,
    stem,
    words,
)
from service.text import prepare
from tests.unit._shared import shared_file

ARTICLE = (
    "The city council approved the new budget on Tuesday by a vote of 7 to 2. "
    "Mayor Karen Bass said the plan would add 20,000 affordable homes by 2030. "
    "Council member Tim Jones voted against the plan. "
    "Officials estimated that the project could cost $1.5 billion. "
    "Unemployment in the county rose to 6.1% last year, the state reported. "
    "The police did not arrest anyone at the protest outside city hall."
)
SENTENCES = [s.strip() + "." for s in ARTICLE.split(". ") if s.strip()]
APPROVED, BASS, JONES, COST, UNEMPLOYMENT, POLICE = (s.rstrip(".") + "." for s in SENTENCES)


def codes(statement: str, evidence: str, article: str = ARTICLE) -> set[str]:
    return {r.code for r in check_rules(statement, evidence, article).verification.reasons}


def status(statement: str, evidence: str, article: str = ARTICLE) -> str:
    return check_rules(statement, evidence, article).verification.status


# ------------------------------------------------------------------- the helpers


def test_numbers_normalise_separators_scales_and_words() -> None:
    assert numbers("20,000 people") == {20000.0}
    assert numbers("20000 people") == {20000.0}
    assert numbers("twenty thousand people") == {20000.0}
    assert numbers("20 thousand people") == {20000.0}
    assert numbers("$1.5 billion") == {1.5e9}
    assert numbers("no figures here") == set()


def test_words_split_negation_and_possessives() -> None:
    assert words("He didn't go to Bass's office") == [
        "he",
        "did",
        "n't",
        "go",
        "to",
        "bass",
        "office",
    ]
    assert words("he did n't go") == ["he", "did", "n't", "go"]


def test_stem_and_content_words_are_case_and_inflection_insensitive() -> None:
    assert stem("increased") == stem("increases") == stem("increasing")
    assert content_words("The Council APPROVED it") == content_words("the council approved it")
    assert "the" not in content_words("the budget")


def test_proper_nouns_skip_sentence_starts() -> None:
    assert proper_nouns("The mayor met Karen Bass. Then she left.") == {"Karen", "Bass"}


def test_a_possessive_name_is_the_name() -> None:
    assert proper_nouns("Profit at Vestal Energy's unit and Jones\u2019 firm fell.") == {
        "Vestal",
        "Energy",
        "Jones",
    }
    article = "Vestal Energy ASA said its first-quarter net profit rose 18 percent."
    check = check_rules("Vestal Energy's net profit rose 18 percent.", article, article)
    assert check.verification.status == "supported", check.verification.reasons


def test_negation_flips_both_ways() -> None:
    assert negation_flips("Police arrested protesters.", "Police did not arrest protesters.")
    assert negation_flips("The council did not approve it.", "The council approved it.")
    assert negation_flips("Police did not arrest anyone.", "Police did not arrest anyone.") == []
    # the evidence also states the word plainly elsewhere: not a flip
    assert (
        negation_flips(
            "Sterling was pictured.", "Sterling was pictured. Nobody disciplined Sterling."
        )
        == []
    )


def test_modality_flips_only_when_the_statement_drops_the_hedge() -> None:
    evidence = "The project could cost $1.5 billion."
    assert modality_flips("The project will cost $1.5 billion.", evidence) == ["could"]
    assert modality_flips("The project may cost $1.5 billion.", evidence) == []
    assert (
        modality_flips("The project costs $1.5 billion.", "The project costs $1.5 billion.") == []
    )


def test_antonyms_need_the_opposite_and_not_the_same_sign() -> None:
    assert antonyms("Unemployment fell.", "Unemployment rose.") == [("fell", "rose")]
    assert antonyms("Unemployment fell.", "Unemployment rose, then fell.") == []
    assert antonyms("The team won.", "The team played.") == []


def test_dropped_qualifiers_name_the_compound_the_statement_shortened() -> None:
    evidence = "A week after U.S.-backed forces announced the final assault, fighting resumed."
    assert dropped_qualifiers("U.S. forces announced the final assault.", evidence) == [
        ("U.S.-backed forces", "U.S. forces")
    ]
    assert dropped_qualifiers("U.S.-backed forces announced the assault.", evidence) == []
    assert dropped_qualifiers("The forces announced the final assault.", evidence) == []
    assert dropped_qualifiers("Government militias fired.", "Pro-government militias fired.") == [
        ("Pro-government militias", "Government militias")
    ]
    # lower-cased, tokenised text as older summarisers write it
    assert dropped_qualifiers("u.s. forces announced", "after u.s. - backed forces announced") == [
        ("u.s. - backed forces", "u.s. forces")
    ]


def test_a_dropped_qualifier_is_hard_evidence_whatever_the_scorer_says() -> None:
    article = (
        "A week after U.S.-backed forces announced the start of their final assault on "
        "Islamic State territory in Syria, little is certain. The fighting continued."
    )
    evidence = article.split(". ")[0] + "."
    statement = evidence.replace("U.S.-backed", "U.S.")
    check = check_support(statement, evidence, article)
    assert check.verification.status == "unsupported"
    assert [r.code for r in check.verification.reasons] == ["qualifier-dropped"]
    assert check_support(evidence, evidence, article).verification.status == "supported"


# --------------------------------------------------------------- check_rules


def test_a_faithful_paraphrase_is_supported_without_reasons() -> None:
    check = check_rules("The council approved the new budget on Tuesday.", APPROVED, ARTICLE)
    assert check.verification.status == "supported"
    assert check.verification.reasons == []
    assert check.overlap == 1.0


@pytest.mark.parametrize(
    ("statement", "evidence", "code", "expected"),
    [
        ("The plan would add 30,000 homes.", BASS, "number-not-in-article", "unsupported"),
        ("The plan would add 20,000 homes by 2030.", JONES, "number-not-in-evidence", None),
        (
            "Mayor Karen Smith said the plan would add homes.",
            BASS,
            "entity-not-in-article",
            "unsupported",
        ),
        ("Tim Jones said the plan would add 20,000 homes.", BASS, "entity-not-in-evidence", None),
        (
            "The police arrested protesters outside city hall.",
            POLICE,
            "negation-mismatch",
            "unsupported",
        ),
        (
            "Unemployment in the county fell to 6.1% last year.",
            UNEMPLOYMENT,
            "antonym",
            "unsupported",
        ),
        ("The project will cost $1.5 billion.", COST, "modality-mismatch", None),
        (
            "The council approved the budget after a heated debate.",
            APPROVED,
            "invented-detail",
            None,
        ),
        ("Bananas are rich in potassium and fibre.", APPROVED, "low-overlap", "unsupported"),
        (
            "The council approved the budget and the mayor's housing plan.",
            APPROVED,
            "partial-overlap",
            None,
        ),
    ],
)
def test_each_check_reports_its_code(
    statement: str, evidence: str, code: str, expected: str | None
) -> None:
    verification = check_rules(statement, evidence, ARTICLE).verification
    assert code in {r.code for r in verification.reasons}
    assert verification.status != "supported"
    if expected is not None:
        assert verification.status == expected
    for reason in verification.reasons:
        assert reason.code == reason.code.lower() and " " not in reason.code
        assert 0 < len(reason.message) <= 120


def test_thresholds_can_be_passed() -> None:
    statement = "The council approved the budget and the mayor's housing plan."
    assert status(statement, APPROVED) == "partially_supported"
    assert (
        status(statement, APPROVED, ARTICLE)
        == check_rules(statement, APPROVED, ARTICLE, partial_overlap=0.6).verification.status
    )
    relaxed = check_rules(statement, APPROVED, ARTICLE, low_overlap=0.0, partial_overlap=0.0)
    assert "partial-overlap" not in {r.code for r in relaxed.verification.reasons}


def test_never_supported_with_an_unmet_check() -> None:
    statements = [
        "The council rejected the new budget on Tuesday.",
        "The council did not approve the new budget on Tuesday.",
        "The council approved the new budget on Monday.",
        "The council approved the new budget by a vote of 8 to 1.",
    ]
    for statement in statements:
        verification = check_rules(statement, APPROVED, ARTICLE).verification
        assert verification.status != "supported", statement
        assert verification.reasons, statement


# ------------------------------------------------------------------ atomic edits


REAL = [
    # (evidence sentence, faithful statement, edited statement, reason code expected)
    (
        "Prime Minister Theresa May said on Wednesday that Britain would leave the customs union.",
        "Theresa May said Britain would leave the customs union.",
        "Theresa May said Britain would not leave the customs union.",
        "negation-mismatch",
    ),
    (
        "Shares in Rolls-Royce fell 12% on Thursday after the engine maker cut its "
        "profit forecast.",
        "Shares in Rolls-Royce fell 12% after the engine maker cut its profit forecast.",
        "Shares in Rolls-Royce rose 12% after the engine maker cut its profit forecast.",
        "antonym",
    ),
    (
        "Senator Elizabeth Warren introduced the bill, which the Senate rejected by "
        "52 votes to 48.",
        "The Senate rejected the bill by 52 votes to 48.",
        "The Senate approved the bill by 52 votes to 48.",
        "antonym",
    ),
    (
        "Health officials said the outbreak had killed 1,200 people since January.",
        "Health officials said the outbreak had killed 1,200 people since January.",
        "Health officials said the outbreak had killed 12,000 people since January.",
        "number-not-in-article",
    ),
    (
        "Investigators said the fire may have been started by a faulty heater.",
        "Investigators said the fire may have been started by a faulty heater.",
        "Investigators said the fire was started by a faulty heater.",
        "modality-mismatch",
    ),
    (
        "Manchester United beat Chelsea 2-1 at Old Trafford on Sunday.",
        "Manchester United beat Chelsea 2-1 at Old Trafford.",
        "Manchester United beat Chelsea 2-1 at Old Trafford in front of a record crowd.",
        "invented-detail",
    ),
]


@pytest.mark.parametrize(("evidence", "faithful", "edited", "code"), REAL)
def test_atomic_edits_are_caught(evidence: str, faithful: str, edited: str, code: str) -> None:
    article = "Earlier reports differed. " + evidence + " More details are expected."
    assert status(faithful, evidence, article) == "supported", faithful
    verification = check_rules(edited, evidence, article).verification
    assert verification.status != "supported", edited
    assert code in {r.code for r in verification.reasons}, (edited, verification.reasons)


def test_swapped_name_is_caught_even_when_overlap_is_perfect() -> None:
    article = (
        "Chancellor Rachel Reeves announced the tax rise in Parliament. "
        "Opposition leader Kemi Badenoch called it a betrayal of working people."
    )
    evidence = "Chancellor Rachel Reeves announced the tax rise in Parliament."
    edited = "Kemi Badenoch announced the tax rise in Parliament."
    verification = check_rules(edited, evidence, article).verification
    assert verification.status != "supported"
    assert "entity-not-in-evidence" in {r.code for r in verification.reasons}
    # with both sentences as evidence, the sentence that says it still names someone else
    verification = check_rules(edited, article, article).verification
    assert verification.status != "supported"
    assert "entity-not-in-evidence" in {r.code for r in verification.reasons}


def test_lower_cased_statements_are_checked_too() -> None:
    article = "Chancellor Rachel Reeves announced the tax rise. Kemi Badenoch objected to it."
    evidence = "Chancellor Rachel Reeves announced the tax rise."
    assert status("rachel reeves announced the tax rise .", evidence, article) == "supported"
    assert status("kemi badenoch announced the tax rise .", evidence, article) != "supported"
    assert status("rachel reeves did n't announce the tax rise .", evidence, article) == (
        "unsupported"
    )


def test_capitalised_may_is_a_name_or_a_month_not_a_hedge() -> None:
    evidence = "Prime Minister Theresa May said in May that Britain would leave."
    assert modality_flips("Theresa May said Britain would leave.", evidence) == []
    assert modality_flips("Britain would leave.", evidence) == []
    assert modality_flips("Britain will leave.", "Britain may leave.") == ["may"]


def test_every_seed_sentence_supports_itself_in_any_case() -> None:
    article = shared_file("seed/baghuz-voa-2019-03.txt").read_text(encoding="utf-8")
    for sentence in prepare(article).sentences:
        for statement in (sentence.text, sentence.text.lower()):
            verification = check_rules(statement, sentence.text, article).verification
            assert verification.status == "supported", (statement, verification.reasons)


def test_an_invented_first_name_is_caught_in_any_case() -> None:
    article = "St Mirren have signed striker Clarkson on loan from Dundee."
    for statement in (
        "st mirren have signed striker jeremy clarkson on loan from dundee .",
        "Jeremy Clarkson has joined St Mirren on loan from Dundee.",
    ):
        verification = check_rules(statement, article, article).verification
        assert verification.status == "unsupported", statement
        assert any(
            r.code == "entity-not-in-article" and "jeremy clarkson" in r.message
            for r in verification.reasons
        ), verification.reasons
    # an unknown word after a name is not part of it
    verification = check_rules("Clarkson joined St Mirren on loan.", article, article).verification
    assert "entity-not-in-article" not in {r.code for r in verification.reasons}
