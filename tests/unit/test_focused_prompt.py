"""analyze.v2: two focused calls sharing the article prefix, speakers chosen from the
rules' names, a summary that is never short of supported sentences, negated cues."""

from __future__ import annotations

import pytest

from service.errors import ModelOutputInvalid, ModelTimeout
from service.grounding import strip_echoed_ids
from service.llm_output import OUTLET_SPEAKER, UNNAMED_SPEAKER, V2_MAX_CLAIM_CHARS
from service.pipeline import analyze
from service.schemas import AnalysisOptions, AnalysisRequest
from service.settings import Settings
from service.speakers import cue_negates, polarity_of
from service.summarize import central_sentences
from service.text import prepare
from tests.conftest import assert_offset_contract, sid
from tests.fakes import FakeLLM

TEXT = (
    "Baghuz Falls as Fighters Surrender\n\n"
    "The Pentagon estimates about 20,000 people have fled the town of Baghuz.\n\n"
    "Aid groups said the camp at al-Hol now holds more than 65,000 people.\n\n"
    "Gen. Joseph Votel said the fighters were not defeated yet.\n\n"
    "U.S. defense officials do not believe it is an accident or a happenstance of the war."
)


@pytest.fixture
def v2(settings: Settings) -> Settings:
    return settings.model_copy(update={"prompt_version": "v2"})


def _summary(*items: tuple[str, list[str]]) -> dict:  # type: ignore[type-arg]
    return {"summary": [{"text": t, "sentences": ids} for t, ids in items]}


async def test_two_calls_share_the_article_prefix_and_offer_the_rules_speakers(
    v2: Settings,
) -> None:
    doc = prepare(TEXT)
    pentagon, camp = sid(doc, "Pentagon"), sid(doc, "al-Hol")
    fake = FakeLLM(
        _summary(("About 20,000 people have fled the town of Baghuz.", [pentagon])),
        {
            "claims": [
                {
                    "sentence": camp,
                    "speaker": "Aid groups",
                    "cue": "said",
                    "text": "The camp at al-Hol holds more than 65,000 people.",
                }
            ]
        },
    )
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    assert len(fake.requests) == 2
    summary_req, claims_req = fake.requests
    s_user, c_user = summary_req.messages[-1]["content"], claims_req.messages[-1]["content"]
    article_end = s_user.index("</article>") + len("</article>")
    assert c_user[:article_end] == s_user[:article_end], "the article is the shared prefix"
    assert summary_req.messages[0] == claims_req.messages[0]
    # speakers are a closed list in the schema, taken from the rules plus two fallbacks
    enum = claims_req.schema["$defs"]["V2Claim"]["properties"]["speaker"]["enum"]
    assert "Aid groups" in enum and OUTLET_SPEAKER in enum and UNNAMED_SPEAKER in enum
    assert any("Votel" in name for name in enum)
    assert "he" not in [n.lower() for n in enum]
    # no example content the model could copy back
    assert "illustrative" not in s_user and "20,000" not in s_user.split("</article>")[1]

    [s] = [x for x in result.summary if x.origin == "llm"]
    assert s.verification.status == "supported"
    claim = next(c for c in result.claims if "65,000" in c.text)
    assert claim.speaker.name == "Aid groups" and claim.speaker.type != "unknown"
    assert result.meta.prompt_version == "analyze.v2"
    assert result.meta.attempts == 2
    assert assert_offset_contract(TEXT, result.model_dump(mode="json")) > 3


async def test_summary_is_completed_from_the_article_when_the_model_fails(
    v2: Settings,
) -> None:
    doc = prepare(TEXT)
    fake = FakeLLM(
        _summary(("The Pentagon says 90,000 soldiers invaded Paris.", [sid(doc, "Pentagon")])),
        {"claims": []},
    )
    request = AnalysisRequest(text=TEXT, options=AnalysisOptions(summary_sentences=3))
    result = await analyze(request, v2, fake)
    assert len(result.summary) == 3, "never fewer sentences than asked"
    assert all(s.origin == "rules" for s in result.summary)
    assert all(s.verification.status == "supported" for s in result.summary)
    titles = {p.start for p in doc.paragraphs if p.role == "title"}
    assert all(s.evidence[0].start not in titles for s in result.summary)
    [failed] = result.rejected_summary
    assert failed.origin == "llm" and failed.verification.status == "unsupported"
    assert failed.verification.reasons, "the failed sentence keeps its reasons"


async def test_a_summary_sentence_that_only_repeats_a_byline_is_not_shown(
    v2: Settings,
) -> None:
    head, body = TEXT.split("\n\n", 1)
    text = f"{head}\n\nBy Jane Roe\n\n{body}"
    doc = prepare(text)
    title, byline = doc.sentences[0], doc.sentences[1]
    assert doc.paragraph_of(byline).role == "heading"
    pentagon = sid(doc, "Pentagon")
    fake = FakeLLM(
        _summary(
            ("Baghuz falls as fighters surrender.", [title.id]),
            ("By Jane Roe", [byline.id, pentagon]),
            ("About 20,000 people have fled the town of Baghuz.", [pentagon]),
        ),
        {"claims": []},
    )
    request = AnalysisRequest(text=text, options=AnalysisOptions(summary_sentences=3))
    result = await analyze(request, v2, fake)
    assert [s.origin for s in result.summary] == ["llm", "llm", "rules"]
    assert result.summary[0].text == "Baghuz falls as fighters surrender.", "the title may lead"
    assert all("Roe" not in s.text for s in result.summary)
    [shown] = result.rejected_summary
    assert shown.text == "By Jane Roe"
    assert shown.verification.reasons[0].code == "restates-heading"
    assert byline.id in shown.verification.reasons[0].message


async def test_a_claim_stated_only_in_the_headline_is_not_check_worthy(v2: Settings) -> None:
    doc = prepare(TEXT)
    title = doc.sentences[0]
    fake = FakeLLM(
        _summary(("About 20,000 people have fled the town of Baghuz.", [sid(doc, "Pentagon")])),
        {
            "claims": [
                {"sentence": title.id, "speaker": OUTLET_SPEAKER, "text": title.text},
                {
                    "sentence": sid(doc, "al-Hol"),
                    "speaker": "Aid groups",
                    "cue": "said",
                    "text": "The camp at al-Hol holds more than 65,000 people.",
                },
            ]
        },
    )
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    assert all(c.evidence[0].sentence_id != title.id for c in result.claims)
    assert any("65,000" in c.text for c in result.claims), "body claims stay"
    [headline] = [r for r in result.rejected_claims if r.text == title.text]
    assert headline.reasons[-1].code == "not-check-worthy"


async def test_echoed_ids_are_stripped_and_the_evidence_is_found_in_the_article(
    v2: Settings,
) -> None:
    doc = prepare(TEXT)
    camp, votel = sid(doc, "al-Hol"), sid(doc, "Votel")
    copied = f"{camp}: Aid groups said the camp at al-Hol now holds more than 65,000 people."
    fake = FakeLLM(_summary((copied, [votel])), {"claims": []})
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    s = next(x for x in result.summary if x.origin == "llm")
    assert not s.text.startswith("S"), s.text
    assert s.verification.status == "supported"
    assert s.sentences == [camp], "the sentence that says it, not the wrongly cited one"
    assert s.verification.reasons[0].code == "evidence-retrieved"


async def test_a_statement_stitched_from_two_sentences_is_not_supported(v2: Settings) -> None:
    doc = prepare(TEXT)
    stitched = "The Pentagon estimates 65,000 people have fled the camp at al-Hol."
    fake = FakeLLM(_summary((stitched, [sid(doc, "Pentagon")])), {"claims": []})
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    assert all(s.text != stitched for s in result.summary)
    [failed] = result.rejected_summary
    assert failed.verification.status != "supported"


async def test_one_invalid_call_degrades_both_invalid_fail(v2: Settings) -> None:
    bad = "not json at all"
    fake = FakeLLM(
        _summary(("Aid groups said the camp holds 65,000 people.", ["S3"])), bad, bad, bad
    )
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    assert any("claims stayed invalid" in w for w in result.meta.warnings)
    assert result.summary and result.claims, "rule claims still come through"

    with pytest.raises(ModelOutputInvalid):
        await analyze(AnalysisRequest(text=TEXT), v2, FakeLLM(*[bad] * 6))


async def test_a_transport_failure_of_either_call_is_an_error(v2: Settings) -> None:
    fake = FakeLLM(ModelTimeout("slow"), {"claims": []})
    with pytest.raises(ModelTimeout):
        await analyze(AnalysisRequest(text=TEXT), v2, fake)


async def test_a_negated_cue_is_never_lost(v2: Settings) -> None:
    fake = FakeLLM(
        _summary(("Gen. Joseph Votel said the fighters were not defeated yet.", ["S4"])),
        {"claims": []},
    )
    result = await analyze(AnalysisRequest(text=TEXT), v2, fake)
    [claim] = [c for c in result.claims if "accident" in c.text]
    assert claim.cue is not None and cue_negates(claim.cue)
    assert claim.text.startswith("it is an accident")
    assert claim.polarity == "negated", "alone, the text states the opposite"


@pytest.mark.parametrize(
    ("cue", "text", "expected"),
    [
        ("do not believe", "it is an accident", "negated"),
        ("denied", "he met the envoy", "negated"),
        ("did not say", "the plant would close", "negated"),
        ("rejected claims", "the vote was rigged", "negated"),
        ("said", "the vote was rigged", "affirmed"),
        ("do not believe", "it is not an accident", "affirmed"),
        (None, "the vote was rigged", "affirmed"),
    ],
)
def test_polarity_of_cues(cue: str | None, text: str, expected: str) -> None:
    assert polarity_of(cue, text) == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("S4: The camp is full.", "The camp is full."),
        ("The camp is full (S4).", "The camp is full ."),
        ("[S4, S5] The camp is full.", "The camp is full."),
        ("SDF officials said 45,000 left.", "SDF officials said 45,000 left."),
    ],
)
def test_strip_echoed_ids(raw: str, clean: str) -> None:
    assert strip_echoed_ids(raw) == clean


def test_central_sentences_are_body_sentences_in_reading_order() -> None:
    doc = prepare(TEXT)
    picked = central_sentences(doc, 2)
    assert len(picked) == 2
    assert picked == sorted(picked, key=lambda s: s.start)
    assert all(doc.paragraph_of(s).role == "body" for s in picked)
    assert central_sentences(doc, 10) == sorted(central_sentences(doc, 10), key=lambda s: s.start)
    assert len(central_sentences(doc, 10)) == 4, "the title is not a summary sentence"


def _unbounded(node: object, path: str = "$") -> list[str]:
    """Paths of strings without maxLength and arrays without maxItems in a JSON schema
    (enums and patterns of fixed shape count as bounded)."""
    out: list[str] = []
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "string" and not ({"maxLength", "enum", "pattern"} & node.keys()):
            out.append(path)
        if kind == "array" and "maxItems" not in node:
            out.append(path)
        for key, value in node.items():
            out += _unbounded(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _unbounded(value, f"{path}[{i}]")
    return out


def test_every_field_the_model_writes_is_bounded() -> None:
    # the output length, and so the latency, must not ride on the token cap
    from service.llm_output import v2_claims_schema, v2_summary_schema

    ids = [f"S{i}" for i in range(1, 30)]
    for schema in (
        v2_summary_schema(3, ids),
        v2_claims_schema(ids, ["a", "b"]),
        v2_claims_schema(ids, [], free_speakers=True),
    ):
        assert _unbounded(schema) == [], _unbounded(schema)


FRENCH = (
    "La maire, Lucie Ferrand, a affirmé que le plan réduira la circulation de 40 % dans le "
    "centre.\n\nSelon des sources municipales, les travaux coûteront 12 millions d'euros."
)


async def test_with_no_names_from_the_rules_the_model_writes_the_speaker(v2: Settings) -> None:
    doc = prepare(FRENCH)
    first, second = doc.sentences[0].id, doc.sentences[1].id
    fake = FakeLLM(
        _summary(("Le plan réduira la circulation de 40 %.", [first])),
        {
            "claims": [
                {
                    "sentence": first,
                    "speaker": "Lucie Ferrand",
                    "speaker_type": "person",
                    "cue": "a affirmé",
                    "text": "Le plan réduira la circulation de 40 % dans le centre.",
                },
                {
                    "sentence": second,
                    "speaker": "Marie Gomez",
                    "speaker_type": "person",
                    "cue": None,
                    "text": "Les travaux coûteront 12 millions d'euros.",
                },
            ]
        },
    )
    result = await analyze(AnalysisRequest(text=FRENCH), v2, fake)
    assert result.meta.language == "fr"
    claim_schema = fake.requests[1].schema["$defs"]["V2Claim"]
    assert "enum" not in claim_schema["properties"]["speaker"], "no list to choose from"
    assert claim_schema["properties"]["speaker"]["maxLength"] <= 80
    assert "speaker_type" in claim_schema["required"]
    assert "none found" in fake.requests[1].messages[-1]["content"]
    named = next(c for c in result.claims if "40 %" in c.text)
    assert (named.speaker.name, named.speaker.type) == ("Lucie Ferrand", "person")
    assert named.verification.status == "supported"
    invented = next(c for c in result.claims if "12 millions" in c.text)
    assert invented.verification.status != "supported", "a name not in the text is caught"
    assert "speaker-not-found" in {r.code for r in invented.verification.reasons}


SPANISH = (
    "La alcaldesa, Lucía Ferrer, afirmó que el plan reducirá el tráfico en un 40 %.\n\n"
    "Según fuentes municipales, la obra costará 12 millones de euros."
)


async def test_spanish_rule_names_give_the_list_and_the_sentence_gives_the_speaker(
    v2: Settings,
) -> None:
    doc = prepare(SPANISH)
    first, second = doc.sentences[0].id, doc.sentences[1].id
    fake = FakeLLM(
        _summary(("El plan reducirá el tráfico en un 40 %.", [first])),
        {
            "claims": [
                {
                    "sentence": first,
                    "speaker": "Lucía Ferrer",
                    "cue": "afirmó",
                    "text": "el plan reducirá el tráfico en un 40 %",
                },
                {
                    "sentence": second,
                    "speaker": "the article itself",
                    "cue": None,
                    "text": "la obra costará 12 millones de euros",
                },
            ]
        },
    )
    result = await analyze(AnalysisRequest(text=SPANISH), v2, fake)
    claim_schema = fake.requests[1].schema["$defs"]["V2Claim"]
    assert "Lucía Ferrer" in claim_schema["properties"]["speaker"]["enum"]
    speakers = {
        c.text: (c.speaker.name, c.speaker.type, c.origin)
        for c in result.claims
        if c.text.endswith(("40 %", "euros"))
    }
    assert speakers == {
        "el plan reducirá el tráfico en un 40 %": ("Lucía Ferrer", "person", "both"),
        "la obra costará 12 millones de euros": ("fuentes municipales", "anonymous", "both"),
    }


async def test_rule_names_keep_the_speaker_a_closed_list(v2: Settings) -> None:
    fake = FakeLLM(
        _summary(("Gen. Joseph Votel said the fighters were not defeated.", ["S4"])), {"claims": []}
    )
    await analyze(AnalysisRequest(text=TEXT), v2, fake)
    claim_schema = fake.requests[1].schema["$defs"]["V2Claim"]
    assert "enum" in claim_schema["properties"]["speaker"]
    assert "speaker_type" not in claim_schema["properties"], "no extra tokens to write"


def test_a_speaker_the_model_names_is_typed_by_the_rules_first() -> None:
    from service.generate import _free_type

    assert _free_type("la Asociación de Comerciantes", "anonymous") == "organization"
    assert _free_type("Lucía Ferrer", "anonymous") == "person"
    assert _free_type("fuentes municipales", "anonymous") == "anonymous"


async def test_a_claim_cut_at_the_schema_limit_is_completed_from_the_article(
    v2: Settings,
) -> None:
    text = TEXT + (
        "\n\nAs for everything else, \u201cwe have been consistently wrong on how big this is,"
        "\u201d the official added, referring to the exodus of fighters, women and children "
        "from their tiny enclave in the northeastern Syrian town of Baghuz on the Euphrates."
    )
    doc = prepare(text)
    exodus = sid(doc, "exodus")
    sentence = doc.sentence(exodus)
    assert sentence is not None
    # as the constrained decoder leaves it: 200 characters, in a word, quotes changed
    cut = sentence.text.replace("\u201c", "\u2018").replace("\u201d", "\u2019")[:V2_MAX_CLAIM_CHARS]
    assert len(cut) == V2_MAX_CLAIM_CHARS and not cut.endswith(" ")
    fake = FakeLLM(
        _summary(("About 20,000 people have fled the town of Baghuz.", [sid(doc, "Pentagon")])),
        {"claims": [{"sentence": exodus, "speaker": OUTLET_SPEAKER, "text": cut}]},
    )
    result = await analyze(AnalysisRequest(text=text), v2, fake)
    claim = next(c for c in result.claims if "consistently wrong" in c.text)
    assert claim.text == sentence.text
    assert claim.verification.status == "supported"


MERGER = (
    "Halvorsen in Talks to Buy Nordlys\n\n"
    "The two companies could announce an agreement as soon as next week, one of the people "
    "said. Another cautioned that the negotiations could still collapse over the price of "
    "the Nordlys fleet of eleven vessels.\n\n"
    "Nordlys Lines has struggled since fuel costs rose last year. Its owners, a group of "
    "private investors, have been seeking a buyer for months, a banker involved in the sale "
    "process said."
)


async def test_a_claim_whose_words_put_it_in_another_sources_mouth_is_rejected(
    v2: Settings,
) -> None:
    doc = prepare(MERGER)
    banker, collapse = sid(doc, "seeking a buyer"), sid(doc, "could still collapse")
    banker_name = "a banker involved in the sale process"
    fake = FakeLLM(
        _summary(("Nordlys Lines has struggled since fuel costs rose.", [sid(doc, "struggled")])),
        {
            "claims": [
                {  # stitched: the banker's sentence cited, another source's statement
                    "sentence": banker,
                    "speaker": banker_name,
                    "text": "A banker involved in the sale process said the negotiations "
                    "could still collapse over the price of the Nordlys fleet of eleven vessels",
                },
                {  # the banker's own statement
                    "sentence": banker,
                    "speaker": banker_name,
                    "text": "Its owners, a group of private investors, have been seeking a "
                    "buyer for months, a banker involved in the sale process said",
                },
            ]
        },
    )
    result = await analyze(AnalysisRequest(text=MERGER), v2, fake)
    [stitched] = [c for c in result.rejected_claims if "collapse" in c.text]
    codes = [r.code for r in stitched.reasons]
    assert "misattributed" in codes
    assert stitched.speaker.name == banker_name  # as the model proposed it
    assert not any("collapse" in c.text and c.speaker.name == banker_name for c in result.claims)
    own = next(c for c in result.claims if "seeking a buyer" in c.text)
    assert own.speaker.name == banker_name and own.verification.status == "supported"
    # the statement itself is still there, with the source the article gives it
    assert any(
        "could still collapse" in c.text
        and c.speaker.name == "Another"
        and collapse in {e.sentence_id for e in c.evidence}
        for c in result.claims
    )
    assert assert_offset_contract(MERGER, result.model_dump(mode="json")) > 3
    # the rejected claim leaves no flag behind: no "unnamed source: a banker …" on the
    # sentence the banker never spoke
    anonymous = [f for f in result.flags if f.type == "anonymous_source"]
    assert not any(
        f.message.endswith(banker_name) and collapse in f.sentence_ids for f in anonymous
    ), anonymous
    assert any(f.message.endswith(banker_name) for f in anonymous)  # her own sentence
