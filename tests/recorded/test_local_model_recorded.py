"""A real exchange with the embedded llama.cpp server, recorded once and replayed offline.

Re-record (needs the local model server on 127.0.0.1:8081, e.g. via `make run`):
    .venv/bin/pytest tests/recorded --record-mode=rewrite
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.models import DEFAULT_MODEL
from service.schemas import AnalysisResponse
from service.settings import Settings
from tests.conftest import assert_offset_contract

RERECORD = (
    "the request no longer matches the recorded cassette (prompt, schema, settings or "
    "segmentation changed): re-record with `make run` in one shell and "
    "`.venv/bin/pytest tests/recorded --record-mode=rewrite` in another"
)


@pytest.mark.vcr
def test_seed_article_through_the_local_model(seed_text: str, vcr: Any) -> None:
    # the default path: the default bundled model and the default prompt
    settings = Settings(prompt_version="v2", _env_file=None)  # type: ignore[call-arg]
    assert settings.is_local()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post(
            "/v1/analyses", json={"text": seed_text, "options": {"summary_sentences": 3}}
        )
    if vcr.record_mode == "none" and vcr.play_count == 0:
        pytest.fail(RERECORD)
    assert r.status_code == 200, r.text
    body = r.json()
    result = AnalysisResponse.model_validate(body)
    assert assert_offset_contract(seed_text, body) >= len(result.sentences)
    assert result.meta.model == f"local/{DEFAULT_MODEL}"
    assert result.meta.prompt_version == "analyze.v2"
    assert result.meta.attempts >= 2, "summary and claims are two calls"
    assert result.meta.usage.prompt_tokens > 1000, "the whole numbered article was sent"
    assert result.meta.usage.completion_tokens > 0
    assert result.meta.usage.cost_usd == 0.0
    # an editor always gets a usable summary of the asked length
    assert len(result.summary) == 3
    assert all(s.verification.status != "unsupported" for s in result.summary)
    # no claim reads as the opposite of what its source said
    accident = [c for c in result.claims if "accident" in c.text]
    assert accident, "the officials' 'do not believe' statement is a claim"
    for claim in accident:
        negated = "not" in claim.text.split() or "n't" in claim.text
        assert negated or claim.polarity == "negated", claim
    # whatever the model said, nothing ungrounded is presented as a claim
    for claim in result.claims:
        assert claim.evidence and claim.verification.status != "unsupported"
    for rejected in result.rejected_claims:
        assert rejected.reasons
