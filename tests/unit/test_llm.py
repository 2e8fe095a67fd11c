from __future__ import annotations

import pytest

from service.errors import ModelOutputInvalid, ModelTimeout, Usage
from service.llm import (
    LiteLLMClient,
    complete_structured,
    extract_json,
    response_format_for,
    retry_after_seconds,
)
from service.llm_output import LLMAnalysis, response_schema
from service.settings import Settings
from tests.fakes import FakeLLM

VALID = {
    "summary": [{"text": "A thing happened.", "sentences": ["S1"]}],
    "claims": [],
    "flags": [],
}


def test_retry_after_parses_seconds_dates_and_ms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "nonsense"}) is None
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert retry_after_seconds({"retry-after": date}, now=1445412480.0) == 10.0


def test_extract_json_strips_fences_and_prose() -> None:
    assert extract_json('```json\n{"a": 1}\n```') == '{"a": 1}'
    assert extract_json('Sure! {"a": {"b": 2}} hope this helps') == '{"a": {"b": 2}}'


def test_response_format_per_provider() -> None:
    schema = {"type": "object"}
    assert response_format_for("json_object_schema", schema, "x") == {
        "type": "json_object",
        "schema": schema,
    }
    assert response_format_for("json_schema", schema, "x") == {
        "type": "json_schema",
        "json_schema": {"name": "x", "schema": schema},
    }
    assert response_format_for("json_object", schema, "x") == {"type": "json_object"}


def test_structured_mode_auto(settings: Settings) -> None:
    client = LiteLLMClient(settings)
    assert client.structured_mode("openai/local") == "json_object_schema"
    assert client.structured_mode("hosted_vllm/qwen") == "json_object_schema"
    assert client.structured_mode("openai/gpt-4o-mini") == "json_schema"
    forced = LiteLLMClient(settings.model_copy(update={"structured_output": "json_object"}))
    assert forced.structured_mode("openai/local") == "json_object"


async def test_valid_first_time() -> None:
    fake = FakeLLM(VALID)
    result = await complete_structured(
        fake,
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        output_model=LLMAnalysis,
        schema=response_schema(3),
        max_reasks=2,
    )
    assert result.attempts == 1
    assert result.value.summary[0].sentences == ["S1"]
    assert result.usage.prompt_tokens == 100


async def test_invalid_then_valid_reasks_with_the_errors() -> None:
    fake = FakeLLM('{"summary": "not a list"}', VALID)
    result = await complete_structured(
        fake,
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        output_model=LLMAnalysis,
        schema=response_schema(3),
        max_reasks=2,
    )
    assert result.attempts == 2
    assert result.usage.prompt_tokens == 200
    reask = fake.requests[1].messages
    assert reask[-2] == {"role": "assistant", "content": '{"summary": "not a list"}'}
    assert "summary" in reask[-1]["content"] and "claims" in reask[-1]["content"]


async def test_invalid_every_time_raises_with_attempts_and_last_output() -> None:
    fake = FakeLLM("nope", "{", '{"claims": 1}')
    with pytest.raises(ModelOutputInvalid) as info:
        await complete_structured(
            fake,
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            output_model=LLMAnalysis,
            schema=response_schema(3),
            max_reasks=2,
        )
    assert info.value.record.attempts == 3
    assert info.value.record.last_output == '{"claims": 1}'
    assert info.value.record.usage.completion_tokens == 60
    assert len(fake.requests) == 3


async def test_transport_error_carries_usage_so_far() -> None:
    fake = FakeLLM("bad", ModelTimeout("slow"))
    with pytest.raises(ModelTimeout) as info:
        await complete_structured(
            fake,
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            output_model=LLMAnalysis,
            schema=response_schema(3),
            max_reasks=2,
        )
    assert info.value.record.attempts == 2
    assert info.value.record.usage.prompt_tokens == 100
    assert info.value.record.last_output == "bad"


def test_usage_cost_unknown_is_never_understated() -> None:
    u = Usage()
    u.add(Usage(10, 2, 0.5))
    assert u.cost_usd == 0.5
    u.add(Usage(10, 2, None))
    assert u.cost_usd is None and u.prompt_tokens == 20


def test_schema_bounds_summary_to_request() -> None:
    schema = response_schema(2)
    assert schema["properties"]["summary"]["maxItems"] == 2
    assert set(schema["required"]) == {"summary", "claims", "flags"}


def test_schema_limits_sentence_ids_to_the_article() -> None:
    schema = response_schema(3, ["S1", "S2", "S3"])
    for name in ("LLMSummarySentence", "LLMClaim", "LLMFlag"):
        items = schema["$defs"][name]["properties"]["sentences"]["items"]
        assert items["enum"] == ["S1", "S2", "S3"]
    huge = response_schema(3, [f"S{i}" for i in range(1, 1000)])
    assert "enum" not in huge["$defs"]["LLMClaim"]["properties"]["sentences"]["items"]
