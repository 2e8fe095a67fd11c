"""SummEdits consistency scorer on a hand-made directory of domain files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.corpora import summedits

DOC = (
    "Ann asks Mike to buy butter on the way home. Mike agrees and asks whether there is "
    "milk. Ann checks the fridge and says there are two bottles of milk."
)


def _write(directory: Path, domain: str, rows: list[tuple[str, int]]) -> None:
    lines = [
        json.dumps({"id": f"{domain}_{i}", "article": DOC, "summary": s, "label": label})
        for i, (s, label) in enumerate(rows)
    ]
    (directory / f"{domain}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_scores_each_domain_and_the_macro_average(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "chat",
        [
            ("Ann asks Mike to buy butter on the way home.", 1),
            ("Ann asks Mike to buy five pounds of butter.", 0),
        ],
    )
    _write(tmp_path, "notes", [("Mike did not agree to buy butter.", 0)])
    result = summedits.score(tmp_path)
    assert result["n_pairs"] == 3
    assert set(result["balanced_accuracy_by_domain"]) == {"chat", "notes"}
    # hard evidence (a number the document lacks, a flipped negation) decides these
    assert result["balanced_accuracy_by_domain"]["notes"] == 1.0
    assert result["rules_balanced_accuracy_by_domain"]["notes"] == 1.0
    assert 0 <= result["balanced_accuracy"] <= 1
    table = summedits.format_table(result)
    assert "chat" in table and "macro average" in table


def test_empty_directory_and_malformed_rows_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no \.jsonl"):
        summedits.score(tmp_path)
    (tmp_path / "bad.jsonl").write_text(json.dumps({"article": DOC}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs article, summary and label"):
        summedits.score(tmp_path)
