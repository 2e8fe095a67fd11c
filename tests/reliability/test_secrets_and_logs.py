"""Provider keys never reach logs, problem responses, response headers or cassettes; each
request leaves one JSON log line without the article text."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import vcr
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.app import create_app
from service.security import redact_secrets
from service.settings import Settings
from tests.conftest import REPO, seed_llm_output, vcr_config
from tests.fakeserver import FakeModelServer, Reply

FAKE_KEY = "sk-factdesk-test-4f8a2b9c1d7e6f5a3b2c1d0e"

#: What a provider key, a bearer token or a key header looks like in text.
KEY_LIKE = re.compile(
    r"sk-[A-Za-z0-9_\-]{12,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+(?!no-key\b)[A-Za-z0-9._~+/\-]{8,}"
    r"|(?i:\b(?:x-)?api-key\b\s*[:=]\s*(?!\[redacted\])\S{8,})"
)
CASSETTE_DIRS = [REPO / "tests/recorded/cassettes", REPO / "evals/cassettes"]
SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "anthropic-api-key", "cookie"}


def _cassettes() -> list[Path]:
    return sorted(p for d in CASSETTE_DIRS if d.is_dir() for p in d.rglob("*.yaml"))


def _scan(text: str) -> list[str]:
    return [m.group(0) for m in KEY_LIKE.finditer(text)]


def test_the_scanner_finds_key_like_strings() -> None:
    leaked = (
        f"Authorization: Bearer {FAKE_KEY}\napi-key: abcdefgh12345\n"
        "x = AIzaSyA12345678901234567890123456789"
    )
    assert len(_scan(leaked)) == 3
    assert _scan("Authorization: Bearer no-key; a sketch of skies") == []
    assert FAKE_KEY not in redact_secrets(f"Incorrect API key provided: {FAKE_KEY}.")


def test_recorded_cassettes_hold_no_credentials() -> None:
    cassettes = _cassettes()
    assert cassettes, "no cassettes found to scan"
    for path in cassettes:
        text = path.read_text(encoding="utf-8")
        assert _scan(text) == [], f"{path}: key-like string"
        data = yaml.safe_load(text)
        for interaction in data.get("interactions", []):
            names = {h.lower() for h in interaction["request"].get("headers", {})}
            assert not names & SECRET_HEADERS, f"{path}: {names & SECRET_HEADERS}"


@pytest.fixture
def keyed(settings: Settings, fake_server: FakeModelServer) -> Iterator[TestClient]:
    s = settings.model_copy(
        update={
            "model": "openai/gpt-4o-mini",
            "api_base": fake_server.base_url,
            "api_key": SecretStr(FAKE_KEY),
            "timeout_s": 2.0,
        }
    )
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        yield c


ECHOES = [
    Reply(status=500, body={"error": {"message": f"internal: key {FAKE_KEY} failed"}}),
    Reply(status=401, body={"error": {"message": f"Incorrect API key provided: {FAKE_KEY}"}}),
    Reply(status=400, body={"error": {"message": f"bad request for api-key: {FAKE_KEY}"}}),
    Reply(status=404, body={"error": {"message": f"Authorization: Bearer {FAKE_KEY} unknown"}}),
    Reply(status=429, body={"error": {"message": f"slow down {FAKE_KEY}"}}),
    Reply(status=200, raw=f"<html>proxy error for {FAKE_KEY}</html>".encode()),
]


@pytest.mark.parametrize("reply", ECHOES, ids=lambda r: f"echo-{r.status}-{bool(r.raw)}")
def test_a_provider_echoing_the_key_does_not_leak_it(
    keyed: TestClient,
    fake_server: FakeModelServer,
    seed_text: str,
    reply: Reply,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="factdesk")
    fake_server.push(reply)
    r = keyed.post("/v1/analyses", json={"text": seed_text})
    assert 400 <= r.status_code < 600 and r.status_code != 500, r.text
    sent = fake_server.headers_seen[0].get("authorization", "")
    assert FAKE_KEY in sent, "the key really was sent to the provider"
    exposed = r.text + json.dumps(dict(r.headers)) + caplog.text
    exposed += "".join(json.dumps(rec.__dict__, default=str) for rec in caplog.records)
    assert FAKE_KEY not in exposed
    assert _scan(exposed) == [], _scan(exposed)


def test_a_run_with_a_fake_key_logs_no_key_and_no_article(
    keyed: TestClient,
    fake_server: FakeModelServer,
    seed_text: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # the production level
    fake_server.push(Reply(status=503), Reply(content=json.dumps(seed_llm_output(seed_text))))
    r = keyed.post("/v1/analyses", json={"text": seed_text}, headers={"X-Request-ID": "abc-1"})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"] == "abc-1"
    assert FAKE_KEY not in caplog.text and _scan(caplog.text) == []
    lines = [
        json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "factdesk.access"
    ]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "abc-1" and line["status"] == 200
    assert line["method"] == "POST" and line["path"] == "/v1/analyses"
    assert line["model"] and line["attempts"] == 1 and line["transport_attempts"] == 2
    assert line["ms"] > 0 and line["llm_ms"] > 0
    assert "article_text" not in line
    sentence = "the Pentagon estimates about 20,000"
    assert sentence in seed_text
    assert [(r.name, r.levelname) for r in caplog.records if sentence in r.getMessage()] == []


def test_a_fresh_cassette_records_no_key(
    settings: Settings, fake_server: FakeModelServer, seed_text: str, tmp_path: Path
) -> None:
    """Recording through the project's VCR settings strips the credentials."""
    config = vcr_config.__wrapped__()  # type: ignore[attr-defined]
    recorder = vcr.VCR(record_mode="all", **config)
    s = settings.model_copy(
        update={"api_base": fake_server.base_url, "api_key": SecretStr(FAKE_KEY)}
    )
    fake_server.push(Reply(content=json.dumps(seed_llm_output(seed_text))))
    path = tmp_path / "fresh.yaml"
    with recorder.use_cassette(str(path)), TestClient(create_app(s)) as c:
        assert c.post("/v1/analyses", json={"text": seed_text}).status_code == 200
    assert FAKE_KEY in fake_server.headers_seen[0]["authorization"]
    text = path.read_text(encoding="utf-8")
    assert "chat/completions" in text
    assert FAKE_KEY not in text and _scan(text) == []
