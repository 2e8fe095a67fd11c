"""The baseline gate: committed metrics (with a tolerance each) that a replay must meet.

``evals/baseline.json`` holds, for one model, the suite value and the per-case value of
every gated metric. A run fails the gate when any of them gets worse than the baseline
by more than the metric's tolerance, and each failure names its case and metric.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .metrics import SPEC_BY_NAME

BASELINE_PATH = Path(__file__).resolve().parent / "baseline.json"
SUITE = "(suite)"
_EPS = 1e-9


@dataclass(frozen=True)
class Failure:
    """One metric of one case (or of the suite) worse than the baseline allows."""

    case: str
    metric: str
    value: float | None
    baseline: float
    tolerance: float
    note: str = ""

    def message(self) -> str:
        """One line saying which case and metric, by how much."""
        spec = SPEC_BY_NAME.get(self.metric)
        if self.value is None:
            return (
                f"{self.case}: {self.metric} is no longer measurable (baseline "
                f"{self.baseline:.3f}){': ' + self.note if self.note else ''}"
            )
        worse = "above" if spec is not None and spec.direction == "lower" else "below"
        return (
            f"{self.case}: {self.metric} = {self.value:.3f}, {worse} baseline "
            f"{self.baseline:.3f} by more than its tolerance {self.tolerance:g}"
            f"{' (' + self.note + ')' if self.note else ''}"
        )


def gated(metric: str) -> bool:
    """True for metrics the gate checks (quality metrics; not latency, tokens, cost)."""
    spec = SPEC_BY_NAME.get(metric)
    return spec is not None and spec.direction != "info"


def load_baseline(path: Path = BASELINE_PATH) -> dict[str, Any] | None:
    """The committed baseline, or ``None`` when there is none."""
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def make_baseline(
    report: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A baseline from a run's report: every gated metric that has a value, for the
    suite and per case. Tolerances are kept from ``previous`` when it has them, else
    taken from the metric's default."""
    old_tol: Mapping[str, Any] = (previous or {}).get("metrics", {})

    def tolerance(name: str) -> float:
        if name in old_tol and "tolerance" in old_tol[name]:
            return float(old_tol[name]["tolerance"])
        return SPEC_BY_NAME[name].tolerance

    metrics = {
        name: {"value": value, "tolerance": tolerance(name)}
        for name, value in report["metrics"].items()
        if gated(name) and value is not None
    }
    cases = {
        case["id"]: {
            name: value
            for name, value in case["metrics"].items()
            if gated(name) and value is not None
        }
        for case in report["cases"]
    }
    return {
        "model": report["model"],
        "prompt_version": report.get("prompt_version"),
        "prompt_sha256": report.get("prompt_sha256"),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcomes": {case["id"]: case["outcome"] for case in report["cases"]},
        "metrics": metrics,
        "cases": cases,
    }


def _worse(metric: str, value: float, base: float, tol: float) -> bool:
    spec = SPEC_BY_NAME[metric]
    if spec.direction == "lower":
        return value > base + tol + _EPS
    return value < base - tol - _EPS


def check(report: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Failure]:
    """Failures of ``report`` against ``baseline``: per case for every case both hold,
    and for the suite when the report ran exactly the baseline's cases. A metric that
    had a value and now has none (the case errored) is a failure."""
    tolerances = {
        name: float(entry.get("tolerance", SPEC_BY_NAME[name].tolerance))
        for name, entry in baseline.get("metrics", {}).items()
        if name in SPEC_BY_NAME
    }
    failures: list[Failure] = []
    by_id = {case["id"]: case for case in report["cases"]}
    for case_id, base_metrics in baseline.get("cases", {}).items():
        case = by_id.get(case_id)
        if case is None:
            continue
        for name, base in base_metrics.items():
            if not gated(name):
                continue
            tol = tolerances.get(name, SPEC_BY_NAME[name].tolerance)
            value = case["metrics"].get(name)
            if value is None:
                failures.append(
                    Failure(case_id, name, None, base, tol, f"outcome {case['outcome']}")
                )
            elif _worse(name, value, base, tol):
                failures.append(Failure(case_id, name, value, base, tol))
    if set(by_id) == set(baseline.get("cases", {})):
        for name, entry in baseline.get("metrics", {}).items():
            if not gated(name):
                continue
            value = report["metrics"].get(name)
            base, tol = float(entry["value"]), tolerances[name]
            if value is None:
                failures.append(Failure(SUITE, name, None, base, tol))
            elif _worse(name, value, base, tol):
                failures.append(Failure(SUITE, name, value, base, tol))
    return failures
