"""The seed article (issue 7, "what must come out")."""

from __future__ import annotations

import pytest

from service.analyzers import Attribution, Findings, analyze
from service.speakers import attribution_speaker
from service.text import Document, prepare
from tests.unit._shared import shared_file


@pytest.fixture(scope="module")
def seed() -> tuple[Document, Findings]:
    doc = prepare(shared_file("seed/baghuz-voa-2019-03.txt").read_text(encoding="utf-8"))
    return doc, analyze(doc)


def _find(findings: Findings, content_part: str) -> Attribution:
    hits = [a for a in findings.attributions if content_part in a.content.text]
    assert hits, f"no attribution whose content holds {content_part!r}"
    return hits[0]


def _by_id(findings: Findings, aid: str) -> Attribution:
    return next(a for a in findings.attributions if a.id == aid)


def test_outlet_attribution(seed: tuple[Document, Findings]) -> None:
    _, f = seed
    voa = [a for a in f.attributions if a.speaker_type == "outlet"]
    assert len(voa) == 1
    assert voa[0].source is not None and voa[0].source.text == "VOA news"
    assert voa[0].cue is not None and voa[0].cue.text == "reports"
    assert "there is little the troops" in voa[0].content.text


def test_anonymous_official_and_linked_later_mentions(seed: tuple[Document, Findings]) -> None:
    _, f = seed
    first = _find(f, "pretty confident the leadership is not still down")
    assert first.speaker_type == "anonymous"
    assert first.speaker_name == "a senior U.S. defense official"
    assert first.direct_quote and first.linked_to is None
    for part in (
        "consistently wrong",
        "assessed not to be innocent civilians",
        "Some of these folks",
        "They want to continue this fight",
    ):
        later = _find(f, part)
        assert later.linked_to == first.id, part
        assert later.speaker_name == first.speaker_name
        assert later.speaker_type == "anonymous"
        assert later.direct_quote
    added = _find(f, "consistently wrong")
    assert added.source is not None and added.source.text == "the official"
    assert added.cue is not None and added.cue.text == "added"


def test_estimates_by_organizations(seed: tuple[Document, Findings]) -> None:
    _, f = seed
    sdf = _find(f, "no more than 1,000 people remained")
    assert (sdf.speaker_name, sdf.speaker_type) == ("SDF officials", "organization")
    assert sdf.cue is not None and sdf.cue.text == "estimated"
    pentagon = _find(f, "about 20,000 people have fled")
    assert (pentagon.speaker_name, pentagon.speaker_type) == ("the Pentagon", "organization")
    assert pentagon.content.text == "about 20,000 people have fled"
    un = _find(f, "perhaps closer to 25,000")
    assert un.speaker_name is not None and "United Nations and SDF officials" in un.speaker_name


def test_named_people_and_organizations(seed: tuple[Document, Findings]) -> None:
    _, f = seed
    ocha = _find(f, "exceeded any prediction of humanitarian actors")
    assert (ocha.speaker_name, ocha.speaker_type) == ("Hedinn Halldorsson", "person")
    assert ocha.cue is not None and ocha.cue.text == "told"
    assert ocha.direct_quote
    irc = _find(f, "12,000 people arriving")
    assert irc.speaker_name == "the International Rescue Committee"
    assert irc.speaker_type == "organization"
    assert irc.cue is not None and irc.cue.text == "warned"
    assert "more than 65,000" in irc.content.text
    votel = _find(f, "not the surrender of ISIS")
    assert (votel.speaker_name, votel.speaker_type) == ("Gen. Joseph Votel", "person")
    assert votel.cue is not None and votel.cue.text == "told"
    warn = _find(f, "goal is to preserve")
    assert warn.source is not None and warn.source.text == "He and other officials"
    assert warn.linked_to == votel.id and warn.speaker_name == "Gen. Joseph Votel"


def test_45000_claim_is_anonymous_and_second_hand(seed: tuple[Document, Findings]) -> None:
    doc, f = seed
    tweet = _find(f, "claimed 45,000 people")
    assert tweet.speaker_type == "anonymous"
    assert tweet.speaker_name == "A YPG media official"
    assert tweet.cue is not None and tweet.cue.text == "tweeted"
    message = [
        a
        for a in f.attributions
        if a.speaker_type == "document" and a.content.text.startswith("45,000 people")
    ]
    assert len(message) == 1
    assert message[0].speaker_name == "a message recovered from the phone of an IS fighter"
    sid = tweet.sentence_ids[0]
    assert any(
        c.type == "reported" and c.span.text == "claimed" and c.sentence_id == sid for c in f.cues
    )
    assert sid in f.uncertain_sentence_ids
    assert doc.sentence(sid) is not None


def test_figure_conflict_group(seed: tuple[Document, Findings]) -> None:
    _, f = seed
    assert len(f.conflicts) == 1
    group = f.conflicts[0]
    assert group.quantity == "people"
    got = [(fig.value, fig.source, fig.approximate) for fig in group.figures]
    assert got == [
        (1000.0, "SDF officials", True),
        (20000.0, "the Pentagon", True),
        (25000.0, "the United Nations and SDF officials", True),
        (45000.0, "a message recovered from the phone of an IS fighter", True),
    ]
    assert group.figures[0].time == "in late February"
    # 12,000 arrivals in 48 hours and the camp's 65,000 are other quantities
    values = {fig.value for fig in f.figures}
    assert {12000.0, 65000.0} <= values
    assert 48.0 not in values and 2019.0 not in values


@pytest.mark.parametrize(
    ("phrase", "cue", "kind"),
    [
        ("perhaps closer to 25,000", "perhaps", "speculation"),
        ("perhaps closer to 25,000", "closer to", "approximation"),
        ("may be even higher", "may", "speculation"),
        ("may still be lurking", "may", "speculation"),
        ("still seen as inevitable", "seen as", "belief"),
        ("still seen as inevitable", "inevitable", "belief"),
        ("pretty confident", "pretty confident", "belief"),
        ("assessed not to be", "assessed", "belief"),
        ("estimates about 20,000", "about", "approximation"),
        ("no more than 1,000", "no more than", "approximation"),
    ],
)
def test_listed_hedges(seed: tuple[Document, Findings], phrase: str, cue: str, kind: str) -> None:
    doc, f = seed
    at = doc.text.index(phrase)
    hits = [c for c in f.cues if at <= c.span.start < at + len(phrase) and c.span.text == cue]
    assert hits and hits[0].type == kind
    assert hits[0].sentence_id in f.uncertain_sentence_ids


def test_no_attributions_from_title_or_captions(seed: tuple[Document, Findings]) -> None:
    doc, f = seed
    skipped = {sid for p in doc.paragraphs if p.role != "body" for sid in p.sentence_ids}
    assert skipped
    assert not any(set(a.sentence_ids) & skipped for a in f.attributions)


def test_every_quote_has_a_named_or_resolved_speaker(seed: tuple[Document, Findings]) -> None:
    doc, f = seed
    quotes = [a for a in f.attributions if a.direct_quote]
    assert len(quotes) >= 6
    for a in quotes:
        speaker = attribution_speaker(doc, a)
        assert speaker.name and a.speaker_name, a
        first = speaker.name.split()[0].lower()
        if first in ("he", "she", "they", "we") or (
            first == "the" and a.speaker_type == "anonymous"
        ):
            # a pronoun or "the official": resolved to an earlier, named mention
            assert speaker.resolved and speaker.resolved_span, a
            assert speaker.resolved_span.start < a.content.start
            assert speaker.resolved.split()[0].lower() not in ("he", "she", "they", "the")


def test_pronoun_and_nominal_speakers_resolve(seed: tuple[Document, Findings]) -> None:
    doc, f = seed
    warn = attribution_speaker(doc, _find(f, "goal is to preserve"))
    assert warn.name == "He and other officials"
    assert warn.resolved == "Gen. Joseph Votel"
    assert warn.resolved_span is not None and warn.resolved_span.text == "Gen. Joseph Votel"
    assert doc.text[warn.resolved_span.start : warn.resolved_span.end] == "Gen. Joseph Votel"
    added = attribution_speaker(doc, _find(f, "consistently wrong"))
    assert added.name == "the official"
    assert added.resolved == "a senior U.S. defense official"
    assert added.resolved_span is not None
    assert added.resolved_span.text == "a senior U.S. defense official"
    assert added.type == "anonymous"
