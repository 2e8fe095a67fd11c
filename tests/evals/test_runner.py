"""Record and replay through the real pipeline against a scripted OpenAI-compatible
server: a recorded case replays offline with the same result, a changed request does not
replay, and a failed recording keeps the old cassette."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from evals.dataset import load_cases
from evals.runner import (
    DEFAULT_LABEL,
    RERECORD_COMMAND,
    cassette_path,
    eval_settings,
    model_slug,
    rerecord_command,
    run_case,
)
from service.prompts import load_prompt
from service.settings import Settings
from service.text import prepare
from tests.fakeserver import FakeModelServer, Reply, _free_port

CASE = load_cases(pattern="wire-brief")[0]


def _answer() -> str:
    sid = prepare(CASE.text).sentences[0].id
    return json.dumps(
        {
            "summary": [
                {
                    "text": "Vestal Energy's first-quarter net profit rose 18 percent.",
                    "sentences": [sid],
                }
            ],
            "claims": [
                {
                    "text": "Vestal Energy's first-quarter net profit rose 18 percent to "
                    "2.3 billion crowns.",
                    "speaker": "Vestal Energy ASA",
                    "speaker_type": "organization",
                    "cue": "said",
                    "sentences": [sid],
                    "quote": None,
                }
            ],
            "flags": [],
        }
    )


def test_model_slugs_and_rerecord_commands() -> None:
    assert model_slug("openai/local") == "openai-local"
    assert model_slug("anthropic/claude-3-5-haiku-latest") == "anthropic-claude-3-5-haiku-latest"
    assert cassette_path("wire-brief", "openai/local").parts[-2:] == (
        "openai-local",
        "wire-brief.yaml",
    )
    assert rerecord_command(DEFAULT_LABEL) == RERECORD_COMMAND
    assert rerecord_command("local/smollm2-135m") == (
        RERECORD_COMMAND + " MODEL=local/smollm2-135m"
    )
    assert cassette_path("wire-brief", "local/qwen2.5-0.5b").parts[-2] == "local-qwen2.5-0.5b"
    assert rerecord_command("openai/gpt-4o-mini").endswith("--record --model openai/gpt-4o-mini")


def test_replay_settings_make_no_transport_retries(settings: Settings) -> None:
    assert eval_settings(None, "replay", settings).transport_retries == 0
    assert eval_settings("openai/x", "replay", settings).model == "openai/x"
    assert eval_settings(None, "record", settings).timeout_s >= 600


def test_a_recorded_case_replays_offline_to_the_same_analysis(
    settings: Settings, fake_server: FakeModelServer, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"api_base": fake_server.base_url})
    fake_server.push(Reply(content=_answer()))
    recorded = asyncio.run(
        run_case(CASE, eval_settings(None, "record", s), mode="record", cassettes=tmp_path)
    )
    assert recorded.outcome == "ok", recorded.detail
    assert recorded.response is not None and recorded.response.claims
    path = cassette_path(CASE.id, s.model, tmp_path)
    saved = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(saved["interactions"]) == 1
    assert saved["metadata"]["factdesk"]["latency_ms"] == recorded.latency_ms
    assert "authorization" not in {
        h.lower() for h in saved["interactions"][0]["request"]["headers"]
    }

    fake_server.stop()  # replay needs no server
    replayed = asyncio.run(run_case(CASE, eval_settings(None, "replay", s), cassettes=tmp_path))
    assert replayed.outcome == "ok", replayed.detail
    assert (replayed.interactions, replayed.played) == (1, 1)
    assert replayed.latency_ms == recorded.latency_ms, "the recorded latency is reported"
    assert replayed.response is not None
    assert [c.text for c in replayed.response.claims] == [c.text for c in recorded.response.claims]
    assert replayed.score.metrics["claim_recall"] == recorded.score.metrics["claim_recall"]

    prompt = load_prompt(s.prompts_dir, "analyze", s.prompt_version)
    edited = dataclasses.replace(prompt, user=prompt.user + "\nBe brief.")
    stale = asyncio.run(
        run_case(CASE, eval_settings(None, "replay", s), cassettes=tmp_path, prompt=edited)
    )
    assert stale.outcome == "cassette-mismatch" and stale.stale
    # this case's model is a scripted server, so the generic re-record command is named
    assert stale.detail is not None and "--record --model" in stale.detail


def test_a_recording_that_cannot_reach_the_model_keeps_the_old_cassette(
    settings: Settings, tmp_path: Path
) -> None:
    path = cassette_path(CASE.id, settings.model, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    s = settings.model_copy(update={"api_base": f"http://127.0.0.1:{_free_port()}/v1"})
    result = asyncio.run(
        run_case(CASE, eval_settings(None, "record", s), mode="record", cassettes=tmp_path)
    )
    assert result.outcome == "model-unavailable"
    assert result.detail is not None and "old cassette kept" in result.detail
    assert path.read_text(encoding="utf-8") == "interactions: []\nversion: 1\n"
    assert list(path.parent.iterdir()) == [path], "no temporary cassette left behind"


def test_a_missing_cassette_is_reported_with_the_record_command(
    settings: Settings, tmp_path: Path
) -> None:
    result = asyncio.run(
        run_case(CASE, eval_settings(None, "replay", settings), cassettes=tmp_path)
    )
    assert result.outcome == "cassette-missing" and result.stale
    assert result.detail is not None and RERECORD_COMMAND in result.detail
