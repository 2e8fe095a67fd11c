"""Language detection and what the analyzers do with text that is not English."""

from __future__ import annotations

import pytest

from service.analyzers import analyze, language_warnings
from service.language import detect, is_english
from service.pipeline import analyze as run_pipeline
from service.schemas import AnalysisRequest
from service.settings import Settings
from service.text import prepare
from tests.fakes import FakeLLM

SPANISH = (
    "El ministro dijo el martes que el gobierno no subirá los impuestos este año, "
    "aunque la oposición asegura que las cuentas no cuadran y que habrá recortes."
)


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The minister said on Tuesday that the government would not raise taxes this year.", "en"),
        (SPANISH, "es"),
        (
            "Le ministre a déclaré mardi que le gouvernement ne relèverait pas les impôts "
            "cette année.",
            "fr",
        ),
        (
            "Der Minister sagte am Dienstag, dass die Regierung die Steuern in diesem Jahr "
            "nicht erhöhen wird.",
            "de",
        ),
        (
            "Министр заявил во вторник, что правительство не будет повышать налоги в этом году.",
            "ru",
        ),
        ("部长周二表示，政府今年不会提高税收。", "zh"),
    ],
)
def test_detects_the_language(text: str, lang: str) -> None:
    assert detect(text) == lang


def test_short_or_unreadable_text_is_no_guess() -> None:
    assert detect("Hello there.") is None
    assert detect("") is None
    assert detect("12 34 56 78 90 11 12 13 14") is None
    assert is_english(None) and is_english("en") and not is_english("es")


def test_english_analyzers_do_not_run_on_spanish() -> None:
    text = "“Los precios subirán”, dijo Juan Pérez. " + SPANISH
    findings = analyze(prepare(text))
    assert findings.language == "es"
    assert findings.cues == () and findings.figures == ()
    # the attributions are the Spanish rules' (the English tagger would read "dijo" as
    # no cue at all)
    found = [(a.speaker_name, a.cue and a.cue.text) for a in findings.attributions]
    assert found == [("Juan Pérez", "dijo"), ("El ministro", "dijo")]


def test_other_languages_get_no_attributions() -> None:
    text = (
        "Le ministre a déclaré mardi que le gouvernement ne relèverait pas les impôts "
        "cette année, a dit Jean Dupont."
    )
    findings = analyze(prepare(text))
    assert findings.language == "fr" and findings.attributions == ()


async def test_response_names_the_language_and_warns(settings: Settings) -> None:
    fake = FakeLLM(
        {
            "summary": [{"text": "El ministro habló.", "sentences": ["S1"]}],
            "claims": [],
            "flags": [],
        }
    )
    result = await run_pipeline(AnalysisRequest(text=SPANISH), settings, fake)
    assert result.meta.language == "es"
    [warning] = language_warnings("es")
    assert warning in result.meta.warnings
    assert "hedges and figures were not analysed" in warning
    # the claim the model missed comes from the Spanish attribution rules
    ruled = [c for c in result.claims if c.origin == "rules"]
    assert [(c.speaker.name, c.cue) for c in ruled] == [("El ministro", "dijo")]


async def test_english_response_has_language_and_no_warning(settings: Settings) -> None:
    text = "The minister said on Tuesday that the government would not raise taxes this year."
    fake = FakeLLM(
        {
            "summary": [{"text": "The minister spoke.", "sentences": ["S1"]}],
            "claims": [],
            "flags": [],
        }
    )
    result = await run_pipeline(AnalysisRequest(text=text), settings, fake)
    assert result.meta.language == "en"
    assert not any("not English" in w for w in result.meta.warnings)
