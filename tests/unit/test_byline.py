"""The byline names the voice of the text itself."""

from __future__ import annotations

import pytest

from service.analyzers.byline import find_byline
from service.pipeline import analyze
from service.schemas import AnalysisRequest
from service.settings import Settings
from service.text import prepare
from tests.fakes import FakeLLM


@pytest.mark.parametrize(
    ("text", "author"),
    [
        ("Headline Here\n\nBy Daniel Reyes\n\nThe town voted.", "Daniel Reyes"),
        ("Headline\n\nBy Ana Ruiz and Tom Lee, Reuters\n\nThe town voted.", "Ana Ruiz and Tom Lee"),
        ("Headline\n\nThe town voted. By Monday it was over.", None),
        ("Headline\n\nby the river the town voted to build a park.", None),
    ],
)
def test_find_byline(text: str, author: str | None) -> None:
    assert find_byline(prepare(text)) == author


async def test_the_texts_own_claims_name_the_author(settings: Settings) -> None:
    text = (
        "Fewer Parking Spaces\n\nBy Daniel Reyes\n\n"
        "The new car park would cost 14 million pounds, money for the bus subsidy."
    )
    doc = prepare(text)
    claim_sid = next(s.id for s in doc.sentences if "14 million" in s.text)
    reply = {
        "summary": [
            {"text": "The new car park would cost 14 million pounds.", "sentences": [claim_sid]}
        ],
        "claims": [
            {
                "text": "The new car park would cost 14 million pounds.",
                "speaker": None,
                "speaker_type": "outlet",
                "sentences": [claim_sid],
            }
        ],
        "flags": [],
    }
    v1 = settings.model_copy(update={"prompt_version": "v1"})
    result = await analyze(AnalysisRequest(text=text), v1, FakeLLM(reply))
    [claim] = [c for c in result.claims if "14 million" in c.text]
    assert (claim.speaker.name, claim.speaker.type) == ("Daniel Reyes", "outlet")
