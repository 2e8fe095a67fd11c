"""The second-opinion call through the real local model server, recorded and replayed.

Re-record: `make run` in one shell, then
    .venv/bin/pytest tests/recorded/test_judge_recorded.py --record-mode=rewrite
"""

from __future__ import annotations

from typing import Any

import pytest

from service.judge import second_opinion
from service.llm import LiteLLMClient
from service.prompts import load_prompt
from service.schemas import Claim, Span, Speaker, Verification
from service.settings import Settings

EVIDENCE = "The Pentagon estimates about 20,000 people have fled the town of Baghuz."


@pytest.mark.vcr
async def test_second_opinion_with_the_local_model(vcr: Any) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    claim = Claim(
        id="C1",
        text="About 65,000 people have fled Baghuz.",
        speaker=Speaker(name="the Pentagon", type="organization"),
        cue="estimates",
        evidence=[Span(start=0, end=len(EVIDENCE), text=EVIDENCE, sentence_id="S1")],
        verification=Verification(status="partially_supported", reasons=[]),
    )
    judged = await second_opinion(
        LiteLLMClient(settings),
        model=settings.model,
        prompt=load_prompt(settings.prompts_dir, "judge", "v1"),
        claims=[claim],
        max_reasks=settings.max_reasks,
    )
    if vcr.record_mode == "none":
        assert vcr.play_count >= 1, "replayed from the cassette"
    assert judged.attempts >= 1
    assert judged.usage.prompt_tokens > 50
    # whatever the model answered, a failed rule check is never upgraded
    statuses = [c.verification.status for c in judged.claims]
    assert statuses in ([], ["partially_supported"])
    assert len(judged.claims) + len(judged.rejected) == 1
