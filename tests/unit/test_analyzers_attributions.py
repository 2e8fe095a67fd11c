"""Attributions: quote forms, indirect speech, speaker types, linking, odd input."""

from __future__ import annotations

import pytest

from service.analyzers import Attribution, analyze
from service.analyzers.attributions import find_attributions, speaker_type
from service.text import prepare


def _attrs(text: str) -> tuple[Attribution, ...]:
    doc = prepare(text)
    found = find_attributions(doc, "rules")
    for a in found:
        for span in (a.source, a.cue, a.content):
            if span is not None:
                assert doc.text[span.start : span.end] == span.text
    return found


def _triples(text: str) -> list[tuple[str | None, str | None, str]]:
    return [
        (a.source.text if a.source else None, a.cue.text if a.cue else None, a.content.text)
        for a in _attrs(text)
    ]


def test_plain_quote_then_speaker() -> None:
    (a,) = _attrs("“Prices will rise,” Jane Doe said on Monday.")
    assert (a.source and a.source.text, a.cue and a.cue.text) == ("Jane Doe", "said")
    assert a.content.text == "“Prices will rise,”"
    assert a.direct_quote and a.speaker_type == "person"


def test_inverted_quote_said_speaker() -> None:
    (a,) = _attrs("“Prices will rise,” said Jane Doe, an economist at the bank.")
    assert a.source is not None and a.source.text == "Jane Doe, an economist at the bank"
    assert a.speaker_name == "Jane Doe" and a.speaker_type == "person"
    assert a.content.text == "“Prices will rise,”"


def test_straight_quotes() -> None:
    (a,) = _attrs('"Prices will rise," the minister said.')
    assert a.content.text == '"Prices will rise,"'
    assert a.source is not None and a.source.text == "the minister"


def test_split_quote_gives_a_linked_continuation() -> None:
    first, second = _attrs("“Prices will rise,” he said, “and wages will not.”")
    assert first.content.text == "“Prices will rise,”"
    assert second.content.text == "“and wages will not.”"
    assert second.linked_to == first.id and second.direct_quote
    assert second.cue == first.cue


def test_quote_spanning_sentences_continues_in_the_next_sentence() -> None:
    text = "“We lost,” the coach said. “We will be back next year.”"
    first, second = _attrs(text)
    assert first.content.text == "“We lost,”"
    assert second.content.text == "“We will be back next year.”"
    assert second.linked_to == first.id
    assert second.sentence_ids == ("S2",)


def test_multi_sentence_quote_before_the_speaker() -> None:
    (a,) = _attrs("“We lost. We will be back,” the coach said.")
    assert a.content.text == "“We lost. We will be back,”"
    assert a.sentence_ids == ("S1",)


def test_speaker_then_colon_quote() -> None:
    (a,) = _attrs("The senator said: “This bill is dead.”")
    assert a.source is not None and a.source.text == "The senator"
    assert a.content.text == "“This bill is dead.”" and a.direct_quote


def test_quote_signed_with_a_dash() -> None:
    text = (
        "We asked voters about the debate.\n\n"
        "“He never answered a single question.” ― Krystal Correa\n\n"
        "“It was a good night for the governor.” — Oscar P. Quintero, 34, a teacher"
    )
    first, second = _attrs(text)[-2:]
    assert (first.source and first.source.text, first.cue and first.cue.text) == (
        "Krystal Correa",
        "―",
    )
    assert first.content.text == "“He never answered a single question.”"
    assert first.direct_quote and first.speaker_type == "person"
    assert second.speaker_name == "Oscar P. Quintero"
    assert second.content.text == "“It was a good night for the governor.”"


def test_dash_after_a_quote_needs_a_name() -> None:
    # a dash that goes on with the sentence is not a signature
    assert _triples("“We lost.” — and then the coach left the room.") == []


def test_transcript_quoted_paragraph_by_paragraph() -> None:
    text = (
        "Partial transcript as follows:\n\n"
        '"WALLACE: Do you really see those two as equivalent, sir?\n\n'
        '"PENCE: Well, look, the question really should be about the campaign."'
    )
    assert _triples(text) == [
        ("WALLACE", ":", "Do you really see those two as equivalent, sir"),
        ("PENCE", ":", "Well, look, the question really should be about the campaign"),
    ]


def test_lead_in_then_a_paragraph_without_quote_marks() -> None:
    text = (
        "The governor signed the budget on Monday.\n\n"
        "Limbaugh added:\n\n"
        "It is typical of the governor, and the budget will not survive the winter.\n\n"
        "Critics were unconvinced by the plan."
    )
    (a,) = [a for a in _attrs(text) if a.source is not None and a.source.text == "Limbaugh"]
    assert a.cue is not None and a.cue.text == "added:"
    assert a.content.text == (
        "It is typical of the governor, and the budget will not survive the winter"
    )
    assert not a.direct_quote


def test_indirect_speech_with_that() -> None:
    (a,) = _attrs("The mayor said that the bridge would reopen in May.")
    assert a.content.text == "that the bridge would reopen in May"
    assert not a.direct_quote


def test_told_skips_the_addressee_and_time() -> None:
    (a,) = _attrs("The governor told reporters on Friday that taxes would rise.")
    assert a.cue is not None and a.cue.text == "told"
    assert a.content.text == "that taxes would rise"


def test_according_to_before_and_after() -> None:
    after = _triples("The plant will close next year, according to company documents.")
    assert after == [("company documents", "according to", "The plant will close next year")]
    before = _triples("According to the police, three people were arrested.")
    assert before == [("the police", "According to", "three people were arrested")]


def test_reporting_verbs() -> None:
    for verb in ("warned", "tweeted", "claimed", "estimates"):
        (a,) = _attrs(f"The agency {verb} that 300 homes were lost.")
        assert a.cue is not None and a.cue.text == verb
        assert a.content.text == "that 300 homes were lost"


def test_unquoted_claim_then_speaker() -> None:
    (a,) = _attrs("The talks have collapsed, Reuters reports.")
    assert a.speaker_type == "outlet"
    assert a.content.text == "The talks have collapsed"


def test_appositive_source() -> None:
    (a,) = _attrs("Mary Poppins, a spokeswoman for the city, said the park would close.")
    assert a.source is not None and a.source.text == "Mary Poppins, a spokeswoman for the city"
    assert a.speaker_name == "Mary Poppins" and a.speaker_type == "person"


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("Gen. Joseph Votel", "person"),
        ("Jane Doe", "person"),
        ("the mayor", "person"),
        ("a senior U.S. defense official", "anonymous"),
        ("sources", "anonymous"),
        ("people familiar with the talks", "anonymous"),
        ("the Pentagon", "organization"),
        ("the International Rescue Committee", "organization"),
        ("SDF officials", "organization"),
        ("VOA news", "outlet"),
        ("The New York Times", "outlet"),
        ("a message recovered from the phone of an IS fighter", "document"),
        ("a report by the ministry", "document"),
        # plural documents, also when a newspaper or an agency obtained them
        ("documents seen by this newspaper", "document"),
        ("Emails obtained by Reuters", "document"),
        ("court filings", "document"),
        ("Reuters", "outlet"),
        ("it", "unknown"),
    ],
)
def test_speaker_types(source: str, kind: str) -> None:
    assert speaker_type(source) == kind


def test_speaker_types_end_to_end() -> None:
    text = (
        "Sources said the deal was close. A senior official said talks would resume. "
        "The ministry said it was ready. A leaked memo claimed the plan was dead. "
        "CNN reported that the talks ended."
    )
    kinds = [a.speaker_type for a in _attrs(text)]
    assert kinds == ["anonymous", "anonymous", "organization", "document", "outlet"]


def test_pronoun_links_to_the_last_named_person() -> None:
    text = (
        "“We will win,” Jane Doe said.\n\n"
        "“It is over,” John Roe said.\n\n"
        "He added that the vote was close."
    )
    doe, roe, he = _attrs(text)
    assert he.linked_to == roe.id and he.speaker_name == "John Roe"
    assert doe.linked_to is None


def test_definite_description_links_to_the_anonymous_official() -> None:
    text = (
        "“It is bad,” a senior defense official said.\n\n"
        "A police spokesman said roads were closed.\n\n"
        "“It will get worse,” the defense official added."
    )
    first, _, later = _attrs(text)
    assert later.linked_to == first.id
    assert later.speaker_name == "a senior defense official"


def test_last_name_links_to_the_full_name() -> None:
    first, later = _attrs("Jane Doe said the plan works.\n\nDoe added that costs fell.")
    assert later.linked_to == first.id and later.speaker_name == "Jane Doe"


def test_no_quotes_and_no_reporting_verbs() -> None:
    assert _attrs("The river rose overnight. Schools were closed.") == ()


def test_unbalanced_quotes_do_not_crash() -> None:
    found = _attrs("“The river rose,” the mayor said. “And then it kept rising")
    assert found[0].source is not None and found[0].source.text == "the mayor"
    _attrs("He said ” nothing “ at all ” really.")


def test_all_caps_text() -> None:
    found = _attrs("“WE WILL WIN,” THE MAYOR SAID. OFFICIALS SAID THAT THE DAM HELD.")
    assert [a.cue.text for a in found if a.cue] == ["SAID", "SAID"]


def test_one_megabyte_of_text_completes() -> None:
    para = (
        "“Prices will rise {n},” Jane Doe said on Monday. Officials estimated that about "
        "{n} people may have left, according to the agency.\n\n"
    )
    parts: list[str] = []
    size = 0
    while size < 1_000_000:
        parts.append(para.format(n=len(parts) + 10_000))  # never a year
        size += len(parts[-1])
    text = "".join(parts)
    findings = analyze(prepare(text))
    assert len(findings.attributions) >= 3 * len(parts)
    assert len(findings.figures) == 2 * len(parts)


def test_quote_running_on_into_the_next_paragraph_keeps_its_speaker() -> None:
    first, second = _attrs("“We will win,” Jane Doe said.\n\n“And we will win again next year.”")
    assert second.content.text == "“And we will win again next year.”"
    assert second.linked_to == first.id and second.speaker_name == "Jane Doe"
    assert second.sentence_ids == ("S2",)


def test_colon_announcing_the_next_paragraph_quote() -> None:
    (a,) = _attrs("In a speech, Jane Doe declared:\n\n“It is very appropriate that we meet here.”")
    assert a.cue is not None and a.cue.text == "declared:"
    assert a.source is not None and a.source.text == "Jane Doe"
    assert a.content.text == "“It is very appropriate that we meet here.”"


def test_headline_name_colon_claim() -> None:
    (a,) = _attrs("Lynch: No outside influence on FBI probe\n\nThe probe continues.")
    assert (a.source and a.source.text, a.cue and a.cue.text) == ("Lynch", ":")
    assert a.content.text == "No outside influence on FBI probe"


def test_a_dangling_phrase_is_not_kept_as_the_source() -> None:
    (a,) = _attrs("“We won,” the team played well before said Smith.")
    assert a.source is None and a.speaker_name is None
    assert a.content.text == "“We won,”"


def test_editorial_labels_before_a_colon_are_not_speakers() -> None:
    for label in ("The Latest", "Correction", "CLARIFICATION", "Editor’s Note"):
        text = f"{label}: An earlier version of this story misstated the date.\n\nMore text."
        assert not any(a.cue and a.cue.text == ":" for a in _attrs(text)), label


def test_interview_transcript_letters_are_not_speakers() -> None:
    assert _attrs("Q: What happened next?") == ()


def test_asked_question_is_content_without_a_source() -> None:
    found = _attrs("Asked whether he would run again, Smith smiled.")
    assert [(a.source, a.cue and a.cue.text, a.content.text) for a in found] == [
        (None, "Asked", "whether he would run again")
    ]


def test_short_pronoun_content_and_sourceless_said_that() -> None:
    (a,) = _attrs("Jeff Flake said he would.")
    assert a.content.text == "he would" and a.speaker_name == "Jeff Flake"
    (b,) = _attrs("Many insiders — and most donors — said that the race was over.")
    # the dash-interrupted subject is not recovered, but the claim is still attributed
    assert b.cue is not None and b.cue.text == "said"
    assert b.content.text == "that the race was over"


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("A senior official at the transport ministry", "anonymous"),
        ("a spokesman for the national police", "anonymous"),
        ("Another", "anonymous"),
        ("A YPG media official", "anonymous"),
        ("Local media", "outlet"),
        ("The two companies", "organization"),
        ("Insurers", "organization"),
        ("U.S.-backed forces", "organization"),  # a military body, not unnamed people
    ],
)
def test_speaker_types_of_unnamed_people_and_groups(source: str, kind: str) -> None:
    assert speaker_type(source) == kind


def test_a_second_attribution_ends_the_first_content() -> None:
    text = "The ministry said 18,000 people had left, while the Red Cross said 26,000 were gone."
    got = _triples(text)
    assert ("The ministry", "said", "18,000 people had left") in got
    assert ("the Red Cross", "said", "26,000 were gone") in got


def test_trailing_appositive_source() -> None:
    text = (
        "The repairs cost 8.4 million pounds, more than planned, the council's highways "
        "director, Graham Peel, said at a ceremony."
    )
    (a,) = _attrs(text)
    assert a.source is not None and a.source.text.endswith("Graham Peel")
    assert a.speaker_name == "Graham Peel" and a.speaker_type == "person"
    assert a.content.text == "The repairs cost 8.4 million pounds, more than planned"


def test_an_estimate_put_at_a_figure() -> None:
    (a,) = _attrs("The Red Cross put the number of missing at more than 200, based on calls.")
    assert (a.source.text if a.source else None, a.cue.text if a.cue else None) == (
        "The Red Cross",
        "put",
    )
    assert a.content.text == "the number of missing at more than 200"


def test_estimates_from_an_organisation_speak_for_it() -> None:
    (a,) = _attrs("Initial estimates from the United Nations suggest the total may be higher.")
    assert a.speaker_name == "the United Nations" and a.speaker_type == "organization"


def test_a_noun_is_not_a_cue() -> None:
    text = (
        "Insurers estimate the damage at 60 million euros, a figure likely to rise as "
        "claims are filed."
    )
    assert [(s, c) for s, c, _ in _triples(text)] == [("Insurers", "estimate")]


def test_a_headline_finding_is_the_documents() -> None:
    text = "Audit Finds Operator Overstated Punctuality\n\nThe audit found delays were hidden."
    kinds = {a.source.text: a.speaker_type for a in _attrs(text) if a.source}
    assert kinds.get("Audit") == "document"


def test_the_person_named_in_an_appositive_is_the_speaker() -> None:
    (a,) = _attrs("Coastline Rail's chief executive, Sandra Lowe, said the audit was wrong.")
    assert a.speaker_name == "Sandra Lowe"


def test_a_quote_inside_a_longer_content_links_back_to_it_in_every_mode() -> None:
    # The rules read the quote as continuing the attribution whose content holds it;
    # both start at the same character, and the combined finder once put the quote first
    # (a link forward: IndexError).
    text = (
        "The inquiry opened on Monday.\n\n"
        "According to Smith, “The port is busier than the airport,” presumably meaning "
        "the inquiry will start there.\n\nOfficials declined to comment.\n"
    )
    for mode in ("rules", "model", "combined"):
        found = find_attributions(prepare(text), mode)
        ids = [a.id for a in found]
        for k, a in enumerate(found):
            if a.linked_to is not None:
                assert a.linked_to in ids[:k], (mode, a)
        quote = [a for a in found if a.content.text.startswith("“The port")]
        assert quote and all(a.speaker_name == "Smith" for a in quote), (mode, found)


def test_it_as_a_source_stands_for_the_institution_just_named() -> None:
    text = (
        "Storm Closes Ports\n\n"
        "The weather service forecast calmer conditions from Thursday, though it warned "
        "that high tides could bring further flooding on Wednesday night.\n\n"
        "The company said it would appeal, and it added that the ruling was unfair."
    )
    found = analyze(prepare(text)).attributions
    by_source = [(a.source.text if a.source else None, a) for a in found]
    service = next(a for s, a in by_source if s == "The weather service")
    # the parse reads "The weather service forecast" as one noun phrase: the phrase's own
    # noun still types it
    assert service.speaker_type == "organization"
    its = [a for s, a in by_source if s == "it"]
    assert [(a.speaker_name, a.speaker_type) for a in its] == [
        ("The weather service", "organization"),
        ("The company", "organization"),
    ]
    assert all(a.linked_to is not None and a.resolved is not None for a in its)


def test_it_far_from_any_institution_stays_unresolved() -> None:
    near = "Mayor Resigns\n\nThe company said the budget was sound. It said nothing more."
    far = (
        "Mayor Resigns\n\nThe company said the budget was sound. "
        + "The weather was mild all week. " * 15
        + "It said nothing more."
    )
    # many insurers are no "it"
    plural = "Mayor Resigns\n\nInsurers said the damage was vast. It said nothing more."
    for text, expected in ((near, "The company"), (far, "It"), (plural, "It")):
        found = analyze(prepare(text)).attributions
        [it] = [a for a in found if a.source and a.source.text == "It"]
        assert it.speaker_name == expected
