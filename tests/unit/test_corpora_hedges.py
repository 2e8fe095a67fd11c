"""Szeged hedge scorer on a hand-made JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.corpora import hedges
from tests.unit._shared import SHARED


def _write(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _row(text: str, cues: list[str]) -> dict[str, object]:
    spans = [
        {
            "start": text.index(c),
            "end": text.index(c) + len(c),
            "text": c,
            "type": "speculation_modal_probable_",
        }
        for c in cues
    ]
    return {"doc": "d", "sid": "S1", "text": text, "uncertain": bool(cues), "cues": spans}


def test_scores(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _row("He may have left.", ["may"]),  # TP, cue TP
            _row("It is possibly true.", ["possibly"]),  # TP, cue TP
            _row("The sky is blue.", ["blue"]),  # FN (gold cue we do not know)
            _row("Perhaps it rained.", []),  # FP
            _row("The town fell.", []),  # TN
        ],
    )
    result = hedges.score(path)
    assert result["n_sentences"] == 5
    assert result["sentence_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["sentence_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["sentence_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["cue_f1"] == pytest.approx(2 / 3, abs=1e-4)
    assert "sentence F1" in hedges.format_table(result)


def test_estimates_are_not_scored_as_szeged_cues(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row("About 300 people estimated the cost.", [])])
    assert hedges.score(path)["sentence_precision"] == 0.0
    assert hedges.predict("About 300 people came.") == set()


def test_shared_file_runs() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the repository")
    result = hedges.score(SHARED / "data/hedges/szeged-wikipedia.jsonl")
    assert result["n_sentences"] == 16218
    assert float(result["sentence_f1"]) >= 0.65
