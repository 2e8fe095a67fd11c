"""The optional second opinion can only make a verdict stricter."""

from __future__ import annotations

from service.pipeline import analyze
from service.schemas import AnalysisOptions, AnalysisRequest
from service.settings import Settings
from service.text import prepare
from tests.conftest import sid
from tests.fakes import FakeLLM

TEXT = (
    "The Pentagon estimates about 20,000 people have fled the town of Baghuz.\n\n"
    "Aid groups said the camp now holds more than 65,000 people."
)


def _reply() -> dict:  # type: ignore[type-arg]
    doc = prepare(TEXT)
    s1, s2 = sid(doc, "Pentagon"), sid(doc, "camp")
    return {
        "summary": [{"text": "About 20,000 people have fled Baghuz.", "sentences": [s1]}],
        "claims": [
            # 65,000 is in the article but not in the cited sentence: partially supported
            {
                "text": "About 65,000 people have fled Baghuz.",
                "speaker": "the Pentagon",
                "speaker_type": "organization",
                "cue": "estimates",
                "sentences": [s1],
                "quote": None,
            },
            {
                "text": "The camp holds more than 65,000 people.",
                "speaker": "Aid groups",
                "speaker_type": "organization",
                "cue": "said",
                "sentences": [s2],
                "quote": None,
            },
        ],
        "flags": [],
    }


async def test_second_opinion_rejects_what_the_model_judges_unsupported(
    settings: Settings,
) -> None:
    fake = FakeLLM(
        _reply(),
        {"judgements": [{"claim": "C1", "verdict": "unsupported", "reason": "says 20,000"}]},
    )
    request = AnalysisRequest(text=TEXT, options=AnalysisOptions(verify_with_model=True))
    result = await analyze(request, settings, fake)
    assert len(fake.requests) == 2
    judge_prompt = fake.requests[1].messages[-1]["content"]
    assert "C1: About 65,000 people have fled Baghuz." in judge_prompt
    assert "C2" not in judge_prompt, "only uncertain claims are sent"
    [rejected] = [r for r in result.rejected_claims if r.id == "C1"]
    assert rejected.reasons[-1].code == "model-judged-unsupported"
    assert "says 20,000" in rejected.reasons[-1].message
    assert all(c.id != "C1" for c in result.claims)
    assert result.meta.attempts == 2
    assert result.meta.usage.prompt_tokens == 200


async def test_a_model_saying_supported_cannot_upgrade_a_failed_check(
    settings: Settings,
) -> None:
    fake = FakeLLM(
        _reply(), {"judgements": [{"claim": "C1", "verdict": "supported", "reason": "fine"}]}
    )
    request = AnalysisRequest(text=TEXT, options=AnalysisOptions(verify_with_model=True))
    result = await analyze(request, settings, fake)
    [c1] = [c for c in result.claims if c.id == "C1"]
    assert c1.verification.status == "partially_supported"
    assert c1.verification.reasons[-1].code == "model-judged-supported"


async def test_no_extra_call_unless_asked(settings: Settings) -> None:
    fake = FakeLLM(_reply())
    result = await analyze(AnalysisRequest(text=TEXT), settings, fake)
    assert len(fake.requests) == 1 and result.meta.attempts == 1
