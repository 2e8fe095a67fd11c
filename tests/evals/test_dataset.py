"""The committed eval cases: valid, varied, and gold that points into each article."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from evals.dataset import DATASETS_DIR, Case, load_case, load_cases, load_polnear

REQUIRED_CASES = {
    "seed-baghuz",
    "no-quotes-storm",
    "anonymous-merger",
    "figures-flood",
    "injection-recall",
    "non-english-es",
    "long-budget",
    "duplicates-captions",
    "html-boilerplate",
    "wire-brief",
    "opinion-parking",
}


def test_the_suite_has_at_least_twelve_valid_cases_covering_every_kind() -> None:
    cases = load_cases()
    ids = {c.id for c in cases}
    assert len(cases) >= 12
    assert ids >= REQUIRED_CASES
    for c in cases:
        assert c.gold.expect == "ok" or c.id == "long-budget"
        if c.gold.expect == "ok":
            assert c.gold.claims, c.id
            assert c.gold.summary_must_carry, c.id


def test_case_kinds_are_what_their_names_say() -> None:
    by_id = {c.id: c for c in load_cases()}
    seed = Path(__file__).resolve().parents[3] / "shared/data/seed/baghuz-voa-2019-03.txt"
    if seed.is_file():
        assert by_id["seed-baghuz"].text == seed.read_text(encoding="utf-8")
    assert not re.search('["“”«»]', by_id["no-quotes-storm"].text)
    assert all(c.speaker_type == "anonymous" for c in by_id["anonymous-merger"].gold.claims)
    assert len(by_id["figures-flood"].gold.conflicts) >= 3
    assert "ignore all previous instructions" in by_id["injection-recall"].text
    assert by_id["injection-recall"].gold.must_not
    assert " el " in by_id["non-english-es"].text
    long = by_id["long-budget"]
    assert len(long.text.split()) >= 6000
    assert long.gold.expect == "context-window-exceeded"
    assert by_id["duplicates-captions"].gold.removed_min
    assert "Cookies" in by_id["html-boilerplate"].text
    assert len(by_id["wire-brief"].text.split()) < 120


def test_every_gold_substring_occurs_in_its_article() -> None:
    for c in load_cases():
        for s in c.gold_substrings():
            start, end = c.locate(s)
            assert c.text[start:end] == s


def test_a_gold_substring_missing_from_the_article_is_rejected(tmp_path: Path) -> None:
    bad = {
        "id": "bad",
        "text": "The mayor said yes.",
        "gold": {"claims": [{"evidence": "the mayor refused"}]},
    }
    with pytest.raises(ValidationError, match="not in the article"):
        Case.model_validate(bad)
    (tmp_path / "other.json").write_text(
        json.dumps({**bad, "gold": {}, "id": "mismatch"}), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="does not match the file name"):
        load_case(tmp_path / "other.json")


def test_case_selection_by_glob() -> None:
    assert [c.id for c in load_cases(DATASETS_DIR, "seed-*")] == ["seed-baghuz"]
    assert {c.id for c in load_cases(DATASETS_DIR, "wire-brief, long-*")} == {
        "wire-brief",
        "long-budget",
    }
    with pytest.raises(ValueError, match="no case"):
        load_cases(DATASETS_DIR, "nothing-like-this")


def test_polnear_cases_take_sourced_attributions_as_gold(tmp_path: Path) -> None:
    text = "Officials said the bridge is safe. The river rose."
    (tmp_path / "dev/text").mkdir(parents=True)
    (tmp_path / "dev/attributions").mkdir(parents=True)
    (tmp_path / "dev/text/a_1.txt").write_text(text, encoding="utf-8")
    (tmp_path / "dev/attributions/a_1_x1.ann").write_text(
        "T1\tSource 0 9\tOfficials\n"
        "T2\tCue 10 14\tsaid\n"
        "T3\tContent 15 33\tthe bridge is safe\n"
        "T4\tAttribution 10 14\tsaid\n"
        "E1\tAttribution:T4 Content:T3 Cue:T2 Source:T1\n",
        encoding="utf-8",
    )
    (cases,) = [load_polnear(tmp_path, "dev", limit=3)]
    assert len(cases) == 1
    gold = cases[0].gold.claims
    assert [(g.evidence, g.speaker) for g in gold] == [("the bridge is safe", "Officials")]
    assert load_polnear(tmp_path / "absent") == []
