"""The trained attribution tagger: weights identity, labels on made-up text, pairing."""

from __future__ import annotations

from service import learned
from service.analyzers.attribution_model import _subject
from service.analyzers.attributions import _Raw, find_attributions, parsed_source, tagger_cues
from service.analyzers.findings import TextSpan
from service.learned import attribution, sha256_file
from service.pipeline import analyze
from service.schemas import AnalysisRequest
from service.settings import Settings
from service.text import prepare
from tests.conftest import assert_offset_contract, seed_llm_output
from tests.fakes import FakeLLM


def test_committed_weights_match_the_expected_hash() -> None:
    assert attribution.WEIGHTS.is_file()
    assert sha256_file(attribution.WEIGHTS) == attribution.SHA256
    assert attribution.WEIGHTS.stat().st_size < 20_000_000


def test_loading_registers_the_component() -> None:
    attribution.tagger()
    info = learned.loaded()[attribution.NAME]
    assert (info.version, info.sha256) == (attribution.VERSION, attribution.SHA256)


def _tagged(text: str) -> list[tuple[str, str, str]]:
    doc = prepare(text)
    out: list[tuple[str, str, str]] = []
    for para in attribution.tagger().tag(doc):
        for layer in attribution.LAYERS:
            for a, b in attribution.spans_of(para.tokens, getattr(para, layer)):
                out.append((layer, doc.text[a:b], f"{a}-{b}"))
    return out


def test_tags_cue_source_and_content_of_indirect_speech() -> None:
    got = {
        (layer, text)
        for layer, text, _ in _tagged(
            "The finance minister said on Tuesday that taxes would not rise next year."
        )
    }
    assert ("cue", "said") in got
    assert ("source", "The finance minister") in got
    assert any(layer == "content" and "taxes would not rise" in t for layer, t in got)


def test_tags_a_trailing_quote() -> None:
    got = {
        (layer, text)
        for layer, text, _ in _tagged("“We will win this fight,” Maria Lopez told reporters.")
    }
    assert ("cue", "told") in got
    assert ("source", "Maria Lopez") in got
    assert any(layer == "content" and "We will win this fight" in t for layer, t in got)


def test_no_attribution_in_plain_narration() -> None:
    assert not any(
        layer == "cue" for layer, _, _ in _tagged("The river rose two metres overnight.")
    )


def test_bio_round_trip() -> None:
    doc = prepare("Officials said the bridge would reopen.")
    (seq,) = [p.tokens for p in attribution.tagger().tag(doc)]
    spans = {(0, 9), (15, 38)}
    tags = attribution.bio(seq, spans)
    assert set(attribution.spans_of(seq, tags)) == spans


def test_model_mode_pairs_spans_into_attributions() -> None:
    doc = prepare("The finance minister said on Tuesday that taxes would not rise next year.")
    (a,) = find_attributions(doc, "model")
    assert a.cue is not None and a.cue.text == "said"
    assert a.source is not None and a.source.text == "The finance minister"
    assert "taxes would not rise" in a.content.text
    for span in (a.source, a.cue, a.content):
        assert doc.text[span.start : span.end] == span.text


def test_speaker_types_come_from_the_parse_and_entities() -> None:
    doc = prepare(
        "Maria Lopez said the bridge would reopen in May. The Transport Ministry said the "
        "repairs would cost more. A spokeswoman said the contract was signed. The Daily "
        "Tribune reported that the mayor had resigned."
    )
    types = {a.source.text: a.speaker_type for a in find_attributions(doc) if a.source}
    assert types.get("Maria Lopez") == "person"
    assert types.get("The Transport Ministry") == "organization"
    assert types.get("A spokeswoman") == "anonymous"
    assert types.get("The Daily Tribune") == "outlet"
    doc = prepare("A week ago U.S.-backed forces announced the start of their final assault.")
    assert [a.speaker_type for a in find_attributions(doc)] == ["organization"]


def test_pronoun_resolves_to_the_named_speaker_before_it() -> None:
    doc = prepare(
        "“We will rebuild,” Mayor Ana Ruiz said on Monday. She said the work would take two years."
    )
    found = find_attributions(doc)
    she = next(a for a in found if a.source is not None and a.source.text == "She")
    assert she.speaker_name == "Mayor Ana Ruiz"
    assert she.resolved is not None and she.resolved.text == "Mayor Ana Ruiz"
    assert doc.text[she.resolved.start : she.resolved.end] == "Mayor Ana Ruiz"


async def test_response_names_the_weights_and_resolved_speakers(
    seed_text: str, settings: Settings
) -> None:
    result = await analyze(
        AnalysisRequest(text=seed_text), settings, FakeLLM(seed_llm_output(seed_text))
    )
    component = result.meta.components[attribution.NAME]
    assert (component.version, component.sha256) == (attribution.VERSION, attribution.SHA256)
    warn = [c for c in result.claims if c.speaker.name == "He and other officials"]
    assert warn and warn[0].speaker.resolved == "Gen. Joseph Votel"
    span = warn[0].speaker.resolved_span
    assert span is not None and seed_text[span.start : span.end] == "Gen. Joseph Votel"
    assert assert_offset_contract(seed_text, result.model_dump(mode="json")) > 20


def test_a_cue_without_a_tagged_source_takes_its_parse_subject() -> None:
    doc = prepare("The finance minister said on Tuesday that taxes would not rise next year.")
    (seq,) = attribution.tokens_of(doc)
    said = next(k for k, t in enumerate(seq) if doc.text[t.start : t.end] == "said")
    that = next(k for k, t in enumerate(seq) if doc.text[t.start : t.end] == "that")
    run = _subject(seq, (said, said + 1), (that, len(seq) - 1))
    assert run is not None
    assert doc.text[seq[run[0]].start : seq[run[1] - 1].end] == "The finance minister"
    # a subject inside the content is not the speaker
    assert _subject(seq, (said, said + 1), (0, len(seq))) is None


def _subject_text(text: str, cue_word: str) -> str | None:
    doc = prepare(text)
    (seq,) = attribution.tokens_of(doc)
    cue = next(k for k, t in enumerate(seq) if doc.text[t.start : t.end] == cue_word)
    run = _subject(seq, (cue, cue + 1), (cue + 1, len(seq) - 1))
    return None if run is None else doc.text[seq[run[0]].start : seq[run[1] - 1].end]


def test_a_cue_that_hangs_off_a_verb_takes_that_verbs_subject() -> None:
    # "saying" (advcl of "tweeted") and "said" (conj of "laughed") have no subject of
    # their own: the speaker is the subject of the verb they hang off
    tweet = "The senator tweeted on Monday, saying the bill would fail in the House."
    assert _subject_text(tweet, "saying") == "The senator"
    laughed = "The governor laughed and said the report was wrong."
    assert _subject_text(laughed, "said") == "The governor"
    # a cue's own subject still comes first
    own = "The mayor left early, and the aide said the meeting was over."
    assert _subject_text(own, "said") == "the aide"


def test_the_rules_take_the_taggers_cue_for_the_same_statement() -> None:
    text = "The Post has learned that the mayor resigned."
    source = TextSpan(0, 8, "The Post")
    short, long = TextSpan(13, 20, "learned"), TextSpan(9, 20, "has learned")
    content = TextSpan(21, 44, text[21:44])
    rules = [_Raw(source, short, content, False)]
    (taken,) = tagger_cues(rules, [_Raw(None, long, TextSpan(26, 44, text[26:44]), False)])
    assert taken.cue == long and taken.source == source and taken.content == content
    # another statement's cue is not taken
    other = [_Raw(None, long, TextSpan(0, 8, text[0:8]), False)]
    assert tagger_cues(rules, other)[0].cue == short


def _vetted(text: str, source: str) -> str | None:
    doc = prepare(text)
    start = text.index(source)
    span = TextSpan(start, start + len(source), source)
    got = parsed_source(doc, attribution.tagger().tag(doc), span)
    assert got is None or got.text == doc.text[got.start : got.end]
    return None if got is None else got.text


def test_a_noun_phrase_source_is_kept_as_it_is() -> None:
    text = "Senior officials at the ministry said the bridge would reopen in May."
    assert _vetted(text, "Senior officials at the ministry") == "Senior officials at the ministry"


def test_a_clause_read_as_a_source_gives_the_noun_phrase_next_to_the_cue() -> None:
    text = "The decision came just three days after the Security Council said it would act."
    source = "The decision came just three days after the Security Council"
    assert _vetted(text, source) == "the Security Council"


def test_before_a_reporting_verb_the_speaker_is_its_subject() -> None:
    text = "Clinton said she believes the plan will pass."
    assert _vetted(text, "Clinton said she") == "Clinton"


def test_a_verb_phrase_is_no_speaker() -> None:
    text = (
        "Vestal Energy ASA said its net profit rose 18 percent, and kept its full-year "
        "production forecast unchanged."
    )
    assert _vetted(text, "kept its full-year production") is None
    # and the product reads no speaker there: the forecast is the company's own
    sources = [a.source.text for a in find_attributions(prepare(text)) if a.source is not None]
    assert sources == ["Vestal Energy ASA"]
