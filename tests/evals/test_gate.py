"""The baseline gate on hand-built reports: which case, which metric, how far."""

from __future__ import annotations

from typing import Any

from evals.gate import SUITE, check, make_baseline


def report(**cases: dict[str, float | None]) -> dict[str, Any]:
    suite: dict[str, float | None] = {}
    for metrics in cases.values():
        for k, v in metrics.items():
            suite[k] = v
    return {
        "model": "openai/local",
        "prompt_version": "analyze.v1",
        "prompt_sha256": "abc",
        "metrics": suite,
        "cases": [
            {
                "id": cid,
                "outcome": "ok" if m.get("claim_recall") is not None else "model-timeout",
                "metrics": m,
            }
            for cid, m in cases.items()
        ],
    }


def test_baseline_keeps_gated_metrics_only_with_default_tolerances() -> None:
    base = make_baseline(report(a={"claim_recall": 0.5, "latency_ms": 900.0, "flag_recall": None}))
    assert base["cases"] == {"a": {"claim_recall": 0.5}}
    assert base["metrics"] == {"claim_recall": {"value": 0.5, "tolerance": 0.05}}
    assert base["outcomes"] == {"a": "ok"}


def test_previous_tolerances_survive_a_new_baseline() -> None:
    old = {"metrics": {"claim_recall": {"value": 0.9, "tolerance": 0.2}}}
    base = make_baseline(report(a={"claim_recall": 0.5}), old)
    assert base["metrics"]["claim_recall"]["tolerance"] == 0.2


def test_a_drop_within_tolerance_passes_and_beyond_fails_naming_case_and_metric() -> None:
    base = make_baseline(report(a={"claim_recall": 0.5}, b={"claim_recall": 1.0}))
    assert check(report(a={"claim_recall": 0.46}, b={"claim_recall": 1.0}), base) == []
    failures = check(report(a={"claim_recall": 0.25}, b={"claim_recall": 1.0}), base)
    assert [(f.case, f.metric) for f in failures] == [("a", "claim_recall")]
    assert "a: claim_recall = 0.250, below baseline 0.500" in failures[0].message()


def test_suite_metrics_are_gated_when_the_run_has_the_baselines_cases() -> None:
    base = make_baseline(report(a={"claim_recall": 0.5}))
    base["metrics"]["claim_recall"]["value"] = 0.9
    base["cases"]["a"]["claim_recall"] = 0.4
    failures = check(report(a={"claim_recall": 0.5}), base)
    assert [(f.case, f.metric) for f in failures] == [(SUITE, "claim_recall")]
    # a run of a subset of cases is gated per case only
    base["cases"]["b"] = {"claim_recall": 1.0}
    assert check(report(a={"claim_recall": 0.5}), base) == []


def test_lower_is_better_metrics_fail_when_they_rise() -> None:
    base = make_baseline(report(a={"must_not_violations": 0.0}))
    failures = check(report(a={"must_not_violations": 1.0}), base)
    assert [(f.case, f.metric) for f in failures] == [
        ("a", "must_not_violations"),
        (SUITE, "must_not_violations"),
    ]
    assert "above baseline" in failures[0].message()


def test_a_metric_that_can_no_longer_be_measured_fails() -> None:
    base = make_baseline(report(a={"claim_recall": 0.5}))
    failures = check(report(a={"claim_recall": None}), base)
    assert failures and failures[0].case == "a"
    assert "no longer measurable" in failures[0].message()
    assert "model-timeout" in failures[0].message()
