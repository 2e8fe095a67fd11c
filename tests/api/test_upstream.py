"""The model side over real HTTP: litellm talks to a scripted OpenAI-compatible server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import seed_llm_output
from tests.fakeserver import FakeModelServer, Reply, _free_port

PROBLEM = "application/problem+json"


@pytest.fixture
def client(settings: Settings, fake_server: FakeModelServer) -> Iterator[TestClient]:
    s = settings.model_copy(
        update={"model": "openai/local", "api_base": fake_server.base_url, "timeout_s": 1.5}
    )
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def good(seed_text: str) -> str:
    return json.dumps(seed_llm_output(seed_text))


def test_success_uses_llama_cpp_schema_format(
    client: TestClient, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    fake_server.push(Reply(content=good))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 200, r.text
    sent = fake_server.requests[0]
    assert sent["response_format"]["type"] == "json_object"
    assert sent["response_format"]["schema"]["required"] == ["summary", "claims", "flags"]
    assert sent["temperature"] == 0
    assert r.json()["meta"]["usage"]["prompt_tokens"] == 50


def test_429_then_success_is_retried(
    client: TestClient, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    fake_server.push(Reply(status=429, headers={"Retry-After": "1"}), Reply(content=good))
    t0 = time.monotonic()
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 200, r.text
    assert len(fake_server.requests) == 2
    assert time.monotonic() - t0 >= 0.9, "Retry-After was honoured"
    assert r.json()["meta"]["attempts"] == 1, "transport retries are not re-asks"


def test_503_then_success_is_retried(
    client: TestClient, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    fake_server.push(Reply(status=503), Reply(status=500), Reply(content=good))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 200, r.text
    assert len(fake_server.requests) == 3


def test_persistent_5xx_is_a_502(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(Reply(status=500))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 502 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"] == "/problems/model-upstream-error"
    assert len(fake_server.requests) == 3, "bounded: 1 call + 2 retries, no litellm retries"


def test_persistent_429_is_a_502_with_retry_after(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(Reply(status=429, headers={"Retry-After": "0"}))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 502
    assert r.json()["type"] == "/problems/model-rate-limited"
    assert len(fake_server.requests) == 3
    assert r.headers["retry-after"] == "1"


def test_timeout_is_a_504(client: TestClient, fake_server: FakeModelServer, seed_text: str) -> None:
    fake_server.push(Reply(content="{}", delay_s=30))
    t0 = time.monotonic()
    r = client.post("/v1/analyses", json={"text": seed_text})
    elapsed = time.monotonic() - t0
    assert r.status_code == 504, r.text
    assert r.json()["type"] == "/problems/model-timeout"
    assert elapsed < 1.5 * 3 + 5, "bounded by timeout x attempts"


def test_unreachable_model_is_a_503(settings: Settings, seed_text: str) -> None:
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    s = settings.model_copy(update={"api_base": dead})
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        r = c.post("/v1/analyses", json={"text": seed_text})
        assert r.status_code == 503, r.text
        assert r.json()["type"] == "/problems/model-unavailable"
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "unreachable" in ready.json()["detail"]


def test_invalid_output_then_valid_over_http(
    client: TestClient, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    fake_server.push(Reply(content='{"summary": "oops"'), Reply(content=good))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 200
    assert r.json()["meta"]["attempts"] == 2
    assert fake_server.requests[1]["messages"][-1]["role"] == "user"
    assert "did not match" in fake_server.requests[1]["messages"][-1]["content"]


def test_invalid_output_every_time_over_http(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(Reply(content="not json at all"))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 502
    assert r.json()["type"] == "/problems/model-output-invalid"
    assert len(fake_server.requests) == 3


def test_auth_failure_is_a_502_without_retries(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(Reply(status=401, body={"error": {"message": "bad key"}}))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 502
    assert r.json()["type"] == "/problems/model-upstream-error"
    assert len(fake_server.requests) == 1


def test_context_window_exceeded_is_a_422(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(
        Reply(
            status=400,
            body={
                "error": {
                    "message": "Requested tokens (9000) exceed context window of 8192",
                    "type": "invalid_request_error",
                }
            },
        )
    )
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "/problems/context-window-exceeded"


def test_readiness_with_a_live_server(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_model_calls_reuse_one_connection(
    settings: Settings, fake_server: FakeModelServer
) -> None:
    # without retries the remaining budget differs on every call; the provider client
    # (and its connection pool) must not be rebuilt for each one
    from service.llm import CompletionRequest, LiteLLMClient

    s = settings.model_copy(
        update={"model": "openai/local", "api_base": fake_server.base_url, "transport_retries": 0}
    )
    fake_server.always(Reply(content='{"ok": true}'))
    client = LiteLLMClient(s)
    request = CompletionRequest(
        model="openai/local",
        messages=[{"role": "user", "content": "hi"}],
        schema={"type": "object"},
    )
    for _ in range(5):
        await client.complete(request)
    assert len(fake_server.peers) == 5
    assert len(set(fake_server.peers)) == 1, fake_server.peers
