"""Each eval metric on hand-built analyses whose right answer is known."""

from __future__ import annotations

import pytest

from evals.dataset import GoldClaim
from evals.metrics import (
    Ratio,
    aggregate,
    display_value,
    find_violations,
    run_metrics,
    score_case,
    score_claims,
    score_conflicts,
    score_flags,
    score_summary,
    speaker_name_matches,
    term_in,
)
from service.schemas import Span, Speaker
from tests.evals._build import case, claim, flag, response, span, summary

GOLD_CLAIMS = [
    {"evidence": "20 people died", "speaker": "Officials", "speaker_type": "anonymous"},
    {"evidence": "35 people died", "speaker": "The Red Cross", "speaker_type": "organization"},
]


def test_ratio_is_none_without_denominator_and_adds_parts() -> None:
    assert Ratio().value is None
    assert Ratio(1, 4).value == 0.25
    assert Ratio(1, 2) + Ratio(2, 2) == Ratio(3, 4)


def test_claim_recall_and_precision_match_by_evidence_overlap() -> None:
    c = case(claims=GOLD_CLAIMS, optional_claims=[{"evidence": "the bridge would reopen"}])
    r = response(
        claims=[
            claim("C1", "Officials say 20 people died.", "officials", "anonymous"),
            claim("C2", "the bridge would reopen", "Ana Ruiz"),  # optional gold: precise
            claim("C3", "Rain may return on Friday", None, "outlet"),  # not gold
        ]
    )
    m, matches, unmatched = score_claims(c, r)
    assert m["claim_recall"] == Ratio(1, 2)
    assert m["claim_precision"] == Ratio(2, 3)
    assert unmatched == ["C3"]
    assert matches[0].found_by == ["C1"] and matches[1].found_by == []
    assert m["speaker_accuracy"] == Ratio(1, 1)


def test_a_quote_span_counts_as_evidence() -> None:
    c = case(claims=GOLD_CLAIMS[1:])
    quoted = claim("C1", "Rain may return", "The Red Cross", "organization")
    quoted = quoted.model_copy(update={"quote": span("35 people died")})
    m, _, _ = score_claims(c, response(claims=[quoted]))
    assert m["claim_recall"] == Ratio(1, 1)


def test_speaker_type_must_match_for_speaker_accuracy() -> None:
    c = case(claims=GOLD_CLAIMS[1:])
    r = response(claims=[claim("C1", "35 people died", "Red Cross", "person")])
    m, _matches, _ = score_claims(c, r)
    assert m["claim_recall"] == Ratio(1, 1)
    assert m["speaker_accuracy"] == Ratio(0, 1)
    assert m["speaker_type_accuracy"] == Ratio(0, 1)
    r = response(claims=[claim("C1", "35 people died", "the mayor", "organization")])
    m, _, _ = score_claims(c, r)
    assert m["speaker_accuracy"] == Ratio(0, 1)
    assert m["speaker_type_accuracy"] == Ratio(1, 1)


@pytest.mark.parametrize(
    ("gold", "aliases", "predicted", "ok"),
    [
        ("Gen. Joseph Votel", [], "Votel", True),
        ("Gen. Joseph Votel", [], "Joseph Votel, commander of U.S. forces", True),
        ("a senior U.S. defense official", [], "U.S.", False),
        ("a senior U.S. defense official", [], "the senior defense official", True),
        ("the Pentagon", [], "Pentagon", True),
        ("Hedinn Halldorsson", ["OCHA"], "OCHA", True),
        ("Hedinn Halldorsson", [], "the International Rescue Committee", False),
        (None, [], "anyone at all", True),
        ("Lucía Ferrer", ["La alcaldesa"], "la alcaldesa", True),
    ],
)
def test_speaker_name_matching(
    gold: str | None, aliases: list[str], predicted: str, ok: bool
) -> None:
    g = GoldClaim(evidence="xyz", speaker=gold, aliases=aliases)
    assert speaker_name_matches(g, Speaker(name=predicted, type="person")) is ok


def test_rejected_claims_are_not_found_and_lower_the_grounded_rate() -> None:
    c = case(claims=GOLD_CLAIMS)
    r = response(claims=[claim("C1", "20 people died", "Officials", "anonymous")], rejected=3)
    m, _, _ = score_claims(c, r)
    assert m["claim_recall"] == Ratio(1, 2)
    assert m["grounded_rate"] == Ratio(1, 4)


def test_claims_of_any_origin_are_scored() -> None:
    c = case(claims=GOLD_CLAIMS)
    r = response(
        claims=[
            claim("C1", "20 people died", "Officials", "anonymous", origin="rules"),
            claim("C2", "35 people died", "The Red Cross", "organization", origin="both"),
        ]
    )
    m, _, _ = score_claims(c, r)
    assert m["claim_recall"] == Ratio(2, 2)


def test_flag_recall_and_precision_per_type() -> None:
    c = case(
        flags=[
            {"type": "hedge", "evidence": "may return"},
            {"type": "estimate", "evidence": "35 people"},
        ],
        optional_flags=[{"type": "hedge", "evidence": "perhaps with storms"}],
    )
    r = response(
        flags=[
            flag("F1", "hedge", "perhaps", ["S3"]),  # same sentence as "may return"
            flag("F2", "hedge", "20 people"),  # wrong place
            flag("F3", "anonymous_source", "35 people"),  # right place, wrong type
        ]
    )
    m, matches, unmatched = score_flags(c, r)
    assert m["flag_recall.hedge"] == Ratio(1, 1)
    assert m["flag_precision.hedge"] == Ratio(1, 2)
    assert m["flag_recall.estimate"] == Ratio(0, 1)
    assert m["flag_precision.anonymous_source"] == Ratio(0, 1)
    assert m["flag_recall"] == Ratio(1, 2)
    assert m["flag_precision"] == Ratio(1, 3)
    assert m["flag_recall.unverified"].value is None
    assert sorted(unmatched) == ["F2", "F3"]
    assert matches[0].found_by == ["F1"]


def test_conflict_needs_one_flag_touching_two_figures() -> None:
    c = case(conflicts=[{"quantity": "deaths", "figures": ["20 people died", "35 people died"]}])
    one = response(flags=[flag("F1", "conflicting_figures", "20 people", ["S1"])])
    both = response(flags=[flag("F1", "conflicting_figures", "20 people", ["S1", "S2"])])
    wrong_type = response(flags=[flag("F1", "estimate", "20 people", ["S1", "S2"])])
    assert score_conflicts(c, one)[0]["conflict_recall"] == Ratio(0, 1)
    assert score_conflicts(c, both)[0]["conflict_recall"] == Ratio(1, 1)
    assert score_conflicts(c, wrong_type)[0]["conflict_recall"] == Ratio(0, 1)


def test_summary_support_rate_and_must_carry_coverage() -> None:
    c = case(summary_must_carry=[["Red Cross", "35"], ["bridge|road"], ["storm"]])
    r = response(
        summary_=[
            summary("The Red Cross counted 35 deaths."),
            summary("The bridge will reopen.", "partially_supported"),
            summary("A storm flattened the town.", "unsupported"),
        ]
    )
    m, facts = score_summary(c, r)
    assert m["summary_support_rate"] == Ratio(1, 3)
    # the unsupported sentence carries nothing
    assert m["must_carry_coverage"] == Ratio(2, 3)
    assert [ok for _, ok in facts] == [True, True, False]


def test_terms_match_whole_words_and_ignore_thousands_separators() -> None:
    assert term_in("20,000", "about 20000 people")
    assert term_in("20000|25,000", "perhaps 25 000 fled")
    assert not term_in("20", "about 200 people")
    assert term_in("casco histórico", "El Casco Histórico, cerrado")
    assert term_in("18%", "up 18 % on the year")
    assert term_in("18 percent|18%", "profit rose 18%.")
    assert term_in("40 %", "un 40% menos")


def test_must_not_matches_grounded_text_unless_excused() -> None:
    c = case(
        must_not=[{"pattern": "recall (was|has been) cancel", "unless": "comment", "where": "both"}]
    )
    r = response(
        claims=[
            claim("C1", "20 people died", None, "outlet", text="The recall was cancelled."),
            claim(
                "C2",
                "35 people died",
                None,
                "outlet",
                text="A comment said the recall was cancelled.",
            ),
        ],
        summary_=[
            summary("The recall has been cancelled.", "unsupported"),
            summary("The recall has been cancelled, officials say."),
        ],
    )
    violations = find_violations(c, r)
    assert [v.where for v in violations] == ["claim C1", "summary 2"]


def test_an_unexpected_error_scores_zero_but_an_expected_one_scores_outcome_only() -> None:
    c = case(claims=GOLD_CLAIMS, summary_must_carry=[["died"]])
    failed = score_case(c, None, outcome="model-output-invalid", attempts=3)
    assert failed.metrics["outcome_accuracy"] == Ratio(0, 1)
    assert failed.metrics["schema_valid_rate"] == Ratio(0, 1)
    assert failed.metrics["claim_recall"] == Ratio(0, 2)
    assert failed.metrics["must_carry_coverage"] == Ratio(0, 1)
    assert failed.metrics["attempts"] == Ratio(3, 1)

    c2 = case(expect="context-window-exceeded", claims=GOLD_CLAIMS)
    expected = score_case(c2, None, outcome="context-window-exceeded")
    assert expected.metrics["outcome_accuracy"] == Ratio(1, 1)
    assert expected.metrics["claim_recall"].value is None
    assert expected.metrics["schema_valid_rate"].value is None


def test_run_metrics_count_schema_validity_only_when_the_model_answered() -> None:
    ok = run_metrics(
        outcome="ok",
        expected="ok",
        attempts=2,
        latency_ms=1500.0,
        prompt_tokens=900,
        completion_tokens=100,
        cost_usd=None,
    )
    assert ok["schema_valid_rate"] == Ratio(1, 1)
    assert ok["attempts"] == Ratio(2, 1)
    assert ok["latency_ms"] == Ratio(1500.0, 1)
    assert ok["prompt_tokens"] == Ratio(900, 1)
    assert ok["cost_usd"].value is None  # unknown price is not counted as free
    timeout = run_metrics(
        outcome="model-timeout",
        expected="ok",
        attempts=None,
        latency_ms=None,
        prompt_tokens=None,
        completion_tokens=None,
        cost_usd=None,
    )
    assert timeout["schema_valid_rate"].value is None
    assert timeout["outcome_accuracy"] == Ratio(0, 1)


def test_dedup_recall_and_token_totals_in_a_scored_case() -> None:
    c = case(removed_min=2)
    s = score_case(c, response(removed=1, attempts=2), outcome="ok", latency_ms=10.0)
    assert s.metrics["dedup_recall"] == Ratio(1, 2)
    assert s.metrics["attempts"] == Ratio(2, 1)
    assert s.metrics["completion_tokens"] == Ratio(20, 1)
    assert s.metrics["must_not_violations"].value is None  # no rules, nothing to count


def test_aggregate_is_a_micro_average_and_totals_sum() -> None:
    total = aggregate(
        [
            {"claim_recall": Ratio(1, 2), "prompt_tokens": Ratio(100, 1)},
            {"claim_recall": Ratio(2, 2), "prompt_tokens": Ratio(50, 1)},
        ]
    )
    assert total["claim_recall"].value == 0.75
    assert display_value("prompt_tokens", total["prompt_tokens"]) == 150
    assert display_value("latency_ms", total["latency_ms"]) is None


def test_span_helper_is_offset_exact() -> None:
    s: Span = span("Ana Ruiz")
    from tests.evals._build import TEXT

    assert TEXT[s.start : s.end] == "Ana Ruiz"
