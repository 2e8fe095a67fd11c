"""PolNeAR scorer on a hand-made split (and on the shared dev split when present)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.corpora import polnear
from tests.unit._shared import SHARED

TEXT = (
    "Spokeswoman Haley Morris says the campaign will shift staff.\n\n"
    "“We are fine,” Morris said.\n\n"
    "The weather was cold.\n"
)


def _split(tmp_path: Path, ann: str) -> Path:
    (tmp_path / "text").mkdir()
    (tmp_path / "attributions").mkdir()
    (tmp_path / "text" / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "attributions" / "a_0001.ann").write_text(ann, encoding="utf-8")
    return tmp_path


def _t(tid: str, label: str, start: int, end: int) -> str:
    return f"{tid}\t{label} {start} {end}\t{TEXT[start:end]}\n"


def _gold() -> str:
    s1 = TEXT.index("Spokeswoman")
    c1 = TEXT.index("says")
    x1 = TEXT.index("the campaign")
    x1e = TEXT.index(".", x1)
    q = TEXT.index("“")
    qe = TEXT.index("”") + 1
    m = TEXT.index("Morris said")
    return (
        _t("T1", "Source", s1, c1 - 1)
        + _t("T2", "Cue", c1, c1 + 4)
        + _t("T3", "Content", x1, x1e)
        + _t("T4", "Attribution", c1, c1 + 4)
        + "E1\tAttribution:T4 Content:T3 Cue:T2 Source:T1\n"
        + _t("T5", "Content", q, qe)
        + _t("T6", "Source", m, m + 6)
        + _t("T7", "Cue", m + 7, m + 11)
        + _t("T8", "Attribution", m + 7, m + 11)
        + "E2\tAttribution:T8 Content:T5 Cue:T7 Source:T6\n"
        + "#1\tAnnotatorNotes T5\ta note\n"
        + _t("T9", "Discuss", 0, 5)
        + "E3\tDiscuss:T9\n"
    )


def test_perfect_predictions_score_one(tmp_path: Path) -> None:
    result = polnear.score(_split(tmp_path, _gold()), modes=("rules",))
    assert result == {
        "source_f1_exact": 1.0,
        "source_f1_overlap": 1.0,
        "cue_f1_exact": 1.0,
        "content_f1_exact": 1.0,
        "content_f1_overlap": 1.0,
        "n_articles": 1,
    }
    table = polnear.format_table(result)
    assert "source" in table and "1.000" in table


def test_overlap_is_more_lenient_than_exact(tmp_path: Path) -> None:
    s1 = TEXT.index("Haley")  # gold source shorter than the prediction
    c1 = TEXT.index("says")
    ann = (
        _t("T1", "Source", s1, c1 - 1)
        + _t("T2", "Cue", c1, c1 + 4)
        + _t("T3", "Content", c1 + 5, c1 + 20)
        + "E1\tAttribution:T2 Content:T3 Cue:T2 Source:T1\n"
    )
    result = polnear.score(_split(tmp_path, ann), modes=("rules",))
    assert result["source_f1_exact"] == 0.0
    assert result["source_f1_overlap"] > 0.0
    # the second predicted attribution has no gold: precision halves
    assert result["cue_f1_exact"] == pytest.approx(2 * 0.5 * 1 / 1.5, abs=1e-4)


def test_discontinuous_spans_are_fragments() -> None:
    gold = polnear.parse_ann(
        "T1\tContent 0 5;10 15\tabcde fghij\nT2\tCue 6 9\tsay\n"
        "E1\tAttribution-no-source:T2 Content:T1 Cue:T2\n"
    )
    assert gold["Content"] == {(0, 5), (10, 15)}
    assert gold["Source"] == set()


def test_empty_split_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        polnear.score(tmp_path)


def test_shared_dev_split_runs() -> None:
    dev = SHARED / "data/polnear/dev"
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the repository")
    result = polnear.score(dev)
    assert result["n_articles"] == 84
    assert 0.5 < float(result["source_f1_overlap"]) <= 1.0


def test_agreement_scores_the_second_annotator_against_the_first(tmp_path: Path) -> None:
    split = _split(tmp_path, _gold())
    # one annotator only: no agreement row
    assert polnear.agreement(split) is None
    assert "annotator_agreement" not in polnear.score(split, modes=("rules",))
    # a second annotator who marked only the first attribution, with a shorter source
    s1 = TEXT.index("Haley")
    c1 = TEXT.index("says")
    x1 = TEXT.index("the campaign")
    x1e = TEXT.index(".", x1)
    second = (
        _t("T1", "Source", s1, c1 - 1)
        + _t("T2", "Cue", c1, c1 + 4)
        + _t("T3", "Content", x1, x1e)
        + "E1\tAttribution:T2 Content:T3 Cue:T2 Source:T1\n"
    )
    (split / "attributions" / "a_0002.ann").write_text(second, encoding="utf-8")
    agreed = polnear.agreement(split)
    assert agreed is not None and agreed["n_articles"] == 1
    # cues: 1 of 1 predicted matches, 1 of 2 gold found
    assert agreed["cue_f1_exact"] == pytest.approx(2 * 1 * 0.5 / 1.5, abs=1e-4)
    assert agreed["source_f1_exact"] == pytest.approx(0.0)
    assert agreed["source_f1_overlap"] == pytest.approx(2 * 1 * 0.5 / 1.5, abs=1e-4)
    result = polnear.score(split, modes=("rules",))
    assert result["annotator_agreement"] == agreed
    assert "annotator vs annotator (1 doubly annotated articles)" in polnear.format_table(result)
