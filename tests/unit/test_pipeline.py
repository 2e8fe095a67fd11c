from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from service.errors import ModelOutputInvalid
from service.llm import Completion, CompletionRequest
from service.pipeline import analyze
from service.schemas import AnalysisOptions, AnalysisRequest
from service.settings import Settings
from tests.conftest import assert_offset_contract, seed_llm_output
from tests.fakes import FakeLLM


async def test_seed_article_grounds_claims_quotes_and_flags(
    seed_text: str, settings: Settings
) -> None:
    fake = FakeLLM(seed_llm_output(seed_text))
    result = await analyze(AnalysisRequest(text=seed_text), settings, fake)
    data = result.model_dump(mode="json")
    assert assert_offset_contract(seed_text, data) > 20

    assert [c.text for c in result.claims][:2] == [
        "About 20,000 people have fled Baghuz.",
        "The IS leadership is not still in Baghuz.",
    ]
    quoted = result.claims[1]
    assert quoted.quote is not None
    assert quoted.quote.text.startswith("We’re pretty confident")  # curly apostrophe kept
    assert quoted.speaker.type == "anonymous"
    assert any(r.code == "quote-aligned-normalized" for r in quoted.verification.reasons)
    assert all(c.verification.status != "unsupported" for c in result.claims)

    types = {f.type for f in result.flags}
    assert {"hedge", "estimate", "anonymous_source"} <= types
    pentagon = result.claims[0]
    assert any(f.type == "estimate" for f in result.flags if f.id in pentagon.flags), (
        "the estimate flag attaches to the claim citing the same sentence"
    )
    assert result.meta.attempts == 1
    assert result.meta.prompt_version == "analyze.v1"
    assert len(result.meta.prompt_sha256) == 64
    assert result.removed, "repeated paragraphs are reported"
    assert all(s.verification.status != "unsupported" for s in result.summary)


async def test_ungroundable_claims_are_rejected_with_reasons(
    seed_text: str, settings: Settings
) -> None:
    output = seed_llm_output(seed_text)
    good_sid = output["claims"][0]["sentences"][0]
    output["claims"] = [
        {
            "text": "Something.",
            "speaker": None,
            "speaker_type": "unknown",
            "cue": None,
            "sentences": ["S999"],
            "quote": None,
        },
        {
            "text": "The official said victory came.",
            "speaker": "the official",
            "speaker_type": "anonymous",
            "cue": "said",
            "sentences": [good_sid],
            "quote": "Victory is ours and the war is over",
        },
        {
            "text": "About 90,000 people have fled Baghuz.",
            "speaker": "the Pentagon",
            "speaker_type": "organization",
            "cue": "estimates",
            "sentences": [good_sid],
            "quote": None,
        },
    ]
    result = await analyze(AnalysisRequest(text=seed_text), settings, FakeLLM(output))
    assert [c for c in result.claims if c.origin != "rules"] == []
    codes = [{r.code for r in c.reasons} for c in result.rejected_claims]
    assert "evidence-not-found" in codes[0] and "unknown-sentence-id" in codes[0]
    assert "quote-not-found" in codes[1]
    assert "number-not-in-article" in codes[2]
    assert_offset_contract(seed_text, result.model_dump(mode="json"))


async def test_flag_with_cue_not_in_sentence_is_dropped_with_warning(
    seed_text: str, settings: Settings
) -> None:
    output = seed_llm_output(seed_text)
    output["flags"] = [{"type": "hedge", "sentences": ["S1"], "cue": "allegedly maybe"}]
    result = await analyze(AnalysisRequest(text=seed_text), settings, FakeLLM(output))
    assert not [f for f in result.flags if f.origin != "rules" and f.type == "hedge"]
    assert any("allegedly maybe" in w for w in result.meta.warnings)


async def test_reask_then_success_counts_attempts(seed_text: str, settings: Settings) -> None:
    fake = FakeLLM('{"summary": []}', seed_llm_output(seed_text))
    result = await analyze(AnalysisRequest(text=seed_text), settings, fake)
    assert result.meta.attempts == 2
    assert result.meta.usage.prompt_tokens == 200


async def test_invalid_every_time(seed_text: str, settings: Settings) -> None:
    fake = FakeLLM("x", "y", "z")
    with pytest.raises(ModelOutputInvalid):
        await analyze(AnalysisRequest(text=seed_text), settings, fake)


async def test_summary_is_cut_to_the_requested_length(seed_text: str, settings: Settings) -> None:
    output = seed_llm_output(seed_text)
    output["summary"] = output["summary"] + copy.deepcopy(output["summary"])
    request = AnalysisRequest(text=seed_text, options=AnalysisOptions(summary_sentences=1))
    fake = FakeLLM(output)
    result = await analyze(request, settings, fake)
    assert len(result.summary) == 1
    assert any("summary sentences" in w for w in result.meta.warnings)
    assert fake.requests[0].schema["properties"]["summary"]["maxItems"] == 1


async def test_model_option_overrides_the_default(seed_text: str, settings: Settings) -> None:
    fake = FakeLLM(seed_llm_output(seed_text))
    request = AnalysisRequest(text=seed_text, options=AnalysisOptions(model="openai/gpt-4o-mini"))
    result = await analyze(request, settings, fake)
    assert fake.requests[0].model == "openai/gpt-4o-mini"
    assert result.meta.model == "openai/gpt-4o-mini"


async def test_claims_repeated_word_for_word_are_kept_once(
    seed_text: str, settings: Settings
) -> None:
    output = seed_llm_output(seed_text)
    output["claims"] = [output["claims"][0]] * 4
    result = await analyze(AnalysisRequest(text=seed_text), settings, FakeLLM(output))
    model_claims = [c for c in result.claims if c.origin != "rules"]
    assert len(model_claims) + len(result.rejected_claims) == 1
    assert any("repeated 3 claim(s)" in w for w in result.meta.warnings)


async def test_a_burst_of_analyses_sends_each_model_call_before_the_next_prepares(
    seed_text: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # First come, first served: analysis k's model call starts before analysis k+1
    # prepares its text, so under a burst the calls go out one by one, overlapping the
    # preparation of the others, instead of all after every preparation.
    from service import pipeline

    events: list[str] = []
    prepare = pipeline._prepare

    def recording_prepare(text: str) -> Any:
        events.append("prepare")
        return prepare(text)

    class SlowLLM(FakeLLM):
        async def complete(self, request: CompletionRequest) -> Completion:
            await asyncio.sleep(0)  # like litellm's hop to a thread before it sends
            events.append("call")
            await asyncio.sleep(0.01)
            self.enqueue(seed_llm_output(seed_text))
            return await super().complete(request)

    monkeypatch.setattr(pipeline, "_prepare", recording_prepare)
    llm = SlowLLM()
    results = await asyncio.gather(
        *(analyze(AnalysisRequest(text=seed_text), settings, llm) for _ in range(4))
    )
    assert all(r.claims for r in results)
    prepares = [k for k, e in enumerate(events) if e == "prepare"]
    assert len(prepares) == 4
    for n, at in enumerate(prepares):
        assert events[:at].count("call") >= n, events


async def test_an_analysis_cancelled_while_its_model_call_runs_cancels_the_call(
    seed_text: str, settings: Settings
) -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    class HangingLLM(FakeLLM):
        async def complete(self, request: CompletionRequest) -> Completion:
            started.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            raise AssertionError("unreachable")

    task = asyncio.ensure_future(analyze(AnalysisRequest(text=seed_text), settings, HangingLLM()))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(cancelled.wait(), 5)
    # the next analysis is not kept waiting by the cancelled one
    later = asyncio.ensure_future(
        analyze(AnalysisRequest(text=seed_text), settings, FakeLLM(seed_llm_output(seed_text)))
    )
    assert (await asyncio.wait_for(later, 60)).claims
