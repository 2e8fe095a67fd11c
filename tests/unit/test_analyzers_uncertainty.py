"""Uncertainty cues: one test per cue type, plus the false friends kept out."""

from __future__ import annotations

from itertools import pairwise

import pytest

from service.analyzers.uncertainty import find_cues, uncertain_sentences
from service.text import prepare


def _cues(text: str) -> list[tuple[str, str]]:
    doc = prepare(text)
    found = find_cues(doc)
    for c in found:
        assert doc.text[c.span.start : c.span.end] == c.span.text
    return [(c.span.text, c.type) for c in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fighters may still be hiding.", ("may", "speculation")),
        ("The toll might rise.", ("might", "speculation")),
        ("It could be worse.", ("could", "speculation")),
        ("Perhaps it was a mistake.", ("Perhaps", "speculation")),
        ("The leader is probably dead.", ("probably", "speculation")),
        ("It is unclear who fired first.", ("unclear", "speculation")),
        ("Officials believe the leader fled.", ("believe", "belief")),
        ("We are pretty confident he is gone.", ("pretty confident", "belief")),
        ("Most are assessed not to be civilians.", ("assessed", "belief")),
        ("Victory is still seen as inevitable.", ("seen as", "belief")),
        ("The army estimated the losses at 300.", ("estimated", "estimate")),
        ("About 20,000 people fled.", ("About", "approximation")),
        ("Nearly 300 homes burned.", ("Nearly", "approximation")),
        ("More than 65,000 live in the camp.", ("More than", "approximation")),
        ("The total is closer to 25,000.", ("closer to", "approximation")),
        ("The rebels reportedly withdrew.", ("reportedly", "reported")),
        ("A message claimed 45,000 people were inside.", ("claimed", "reported")),
        ("The alleged attacker was arrested.", ("alleged", "reported")),
        (
            "The claim could not be independently verified.",
            ("could not be independently verified", "reported"),
        ),
        ("The dam will fail if the rain continues.", ("if", "condition")),
        ("Aid arrives unless the road is cut.", ("unless", "condition")),
        ("Police are investigating whether the fire was set.", ("whether", "investigation")),
    ],
)
def test_each_cue_type(text: str, expected: tuple[str, str]) -> None:
    assert expected in _cues(text)


@pytest.mark.parametrize(
    "text",
    [
        "The vote is on May 5.",
        "The talks began in May.",
        "He spoke about Syria.",
        "The group grew over the years.",
        "They kept as much as possible.",
        "He said he would go.",
        "The rebels took the town.",
    ],
)
def test_false_friends_are_not_cues(text: str) -> None:
    assert _cues(text) == []


def test_uncertain_sentences_are_those_with_cues() -> None:
    doc = prepare("The town fell. Perhaps 300 died. The army left.")
    assert uncertain_sentences(find_cues(doc)) == frozenset({"S2"})


def test_cues_do_not_overlap() -> None:
    doc = prepare("It may or may not be true that perhaps no more than 5 people left.")
    spans = sorted((c.span.start, c.span.end) for c in find_cues(doc))
    assert all(a[1] <= b[0] for a, b in pairwise(spans))
    assert ("may or may not", "speculation") in _cues(doc.text)


def test_all_caps_cues() -> None:
    assert ("MAY", "speculation") in _cues("FIGHTERS MAY STILL BE HIDING.")
