"""FRANK faithfulness scorer on a hand-made JSONL file, and on the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.corpora import frank
from tests.unit._shared import shared_file

ARTICLE = (
    "The city council approved the new budget on Tuesday by a vote of 7 to 2. "
    "Mayor Karen Bass said the plan would add 20,000 affordable homes by 2030."
)


def _write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    return path


def _row(summary: str, label: int, dataset: str | None = "news") -> dict[str, object]:
    row: dict[str, object] = {"article": ARTICLE, "summary": summary, "label": label}
    if dataset is not None:
        row["dataset"] = dataset
    return row


def test_scores_per_dataset_and_macro_average(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _row("The city council approved the new budget on Tuesday.", 1),  # TN
            _row("The city council rejected the new budget on Tuesday.", 0),  # TP
            _row("The plan would add 30,000 homes.", 0),  # TP
            _row("The council approved the budget after a heated debate.", 1),  # FP
            _row("Mayor Karen Bass said the plan would add 20,000 affordable homes.", 1, "other"),
            _row("Mayor Karen Bass said the plan would add 20,000 homes.", 0, "other"),  # FN
        ],
    )
    result = frank.score(path)
    assert result["n_pairs"] == 6
    # the rules-only row: the counts marked above
    assert result["rules_balanced_accuracy_by_dataset"] == {"news": 0.75, "other": 0.5}
    assert result["rules_balanced_accuracy"] == pytest.approx(0.625)
    # the product's verdict: hard evidence alone already catches the two TPs
    combined = result["balanced_accuracy_by_dataset"]
    assert set(combined) == {"news", "other"} and all(0 <= v <= 1 for v in combined.values())
    assert result["unfaithful_recall"] >= 2 / 3 - 1e-4
    assert result["ms_per_pair"] >= 0 and result["ms_per_sentence"] >= 0
    assert set(result["baseline_balanced_accuracy_by_dataset"]) == {"news", "other"}
    table = frank.format_table(result)
    assert "macro average" in table and "news" in table and "overlap" in table
    assert "rules" in table


def test_rows_without_dataset_count_as_one(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("The council approved the new budget.", 1, None)])
    result = frank.score(path)
    assert list(result["balanced_accuracy_by_dataset"]) == ["all"]


def test_malformed_row_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"article": ARTICLE, "label": 1}])
    with pytest.raises(ValueError, match="needs article, summary and label"):
        frank.score(path)


def test_system_artefacts_are_removed_from_summaries() -> None:
    assert frank.clean_summary("alexander UNK has been charged -lrb- twice -rrb- .") == (
        "alexander has been charged twice ."
    )


def test_overlap_baseline() -> None:
    assert frank.overlap("the council approved the budget", ARTICLE) == 1.0
    assert frank.overlap("bananas are yellow", ARTICLE) == 0.0
    assert frank.overlap("", ARTICLE) == 1.0


def test_shared_frank_valid_scores_the_products_verdict() -> None:
    result = frank.score(shared_file("frank/valid.jsonl"))
    assert result["n_pairs"] == 671
    assert set(result["balanced_accuracy_by_dataset"]) == {"bbc", "cnndm"}
    # CPU per sentence is reported by the bench (`factdesk bench frank`), not gated here:
    # a timed test measures the machine's load, not the code
    assert result["ms_per_sentence"] > 0
    # the verdict must beat chance on each half, not only pooled, and beat the rules
    assert all(v > 0.5 for v in result["balanced_accuracy_by_dataset"].values())
    assert result["balanced_accuracy"] > result["rules_balanced_accuracy"]
