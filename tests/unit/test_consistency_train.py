"""The training data generator and the fit, on a small hand-made article (no encoder)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from service.learned import consistency_train as train

ARTICLE = (
    "Mayor Karen Bass said the city would build 20,000 homes by 2030. "
    "Council member Tim Jones said the plan was too expensive for the city. "
    "The council approved the budget on Tuesday after a long debate. "
    "Officials estimated that the project could cost 1,500 million dollars in total. "
    "Police did not arrest anyone at the protest outside city hall on Monday. "
    "Unemployment in the county rose to six percent last year, the state reported."
)


def test_news_pairs_are_balanced_labelled_and_carry_retrieved_evidence(tmp_path: Path) -> None:
    paths = []
    for n in range(3):
        path = tmp_path / f"a{n}.txt"
        path.write_text(ARTICLE, encoding="utf-8")
        paths.append(path)
    pairs = train.news_pairs(paths, random.Random(1), per_article=6)
    assert pairs, "no pairs generated"
    labels = [p.label for p in pairs]
    assert set(labels) == {0, 1} and abs(labels.count(1) - labels.count(0)) <= len(pairs) // 3
    assert all(p.evidence for p in pairs if p.label == 1)
    # a negative never repeats the sentence it was made from
    sentences = set(train._sentences(ARTICLE))
    assert not any(p.statement in sentences for p in pairs if p.label == 0)
    again = train.news_pairs(paths, random.Random(1), per_article=6)
    assert [p.statement for p in again] == [p.statement for p in pairs], "seeded"


def test_edits_change_what_they_say_they_change() -> None:
    rng = random.Random(0)
    s = "Mayor Karen Bass said the city would build 20,000 homes by 2030."
    assert train._flip_negation(s, rng) == (
        "Mayor Karen Bass said the city would not build 20,000 homes by 2030."
    )
    swapped = train._swap_number(s, ["1,500"], random.Random(3))
    assert swapped is not None and swapped != s and "2030" in swapped
    named = train._swap_name(s, ["Tim Jones"], rng)
    assert named is not None and "Tim Jones" in named
    assert train._flip_negation("Police did not arrest anyone.", rng) == "Police did arrest anyone."


def test_fit_logistic_separates_separable_data_and_is_deterministic() -> None:
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    w = train.fit_logistic(x, y, l2=1.0)
    assert w[1] > 0
    assert np.array_equal(w, train.fit_logistic(x, y, l2=1.0))


def test_threshold_choice_maximises_macro_balanced_accuracy() -> None:
    scores = np.array([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])
    labels = np.array([0, 0, 1, 1, 0, 1])
    groups = ["a", "a", "a", "a", "b", "b"]
    t = train.choose_threshold(scores, labels, groups)
    assert 0.3 < t <= 0.7
    assert train.macro_balanced_accuracy(scores, labels, groups, t)["macro"] == 1.0
