from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import assert_offset_contract, seed_llm_output
from tests.fakes import FakeLLM

PROBLEM = "application/problem+json"


@pytest.fixture
def fake() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def client(settings: Settings, fake: FakeLLM) -> Iterator[TestClient]:
    small = settings.model_copy(update={"max_text_chars": 20_000, "max_body_bytes": 200_000})
    with TestClient(create_app(small, fake), raise_server_exceptions=False) as c:
        yield c


def problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_seed_article_complete_response(client: TestClient, fake: FakeLLM, seed_text: str) -> None:
    fake.enqueue(seed_llm_output(seed_text))
    r = client.post("/v1/analyses", json={"text": seed_text, "title": "Baghuz"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"summary", "claims", "rejected_claims", "flags", "sentences", "meta"}
    meta = body["meta"]
    assert set(meta) >= {
        "model",
        "prompt_version",
        "prompt_sha256",
        "schema_version",
        "attempts",
        "usage",
        "timings_ms",
        "warnings",
    }
    assert set(meta["usage"]) == {"prompt_tokens", "completion_tokens", "cost_usd"}
    assert set(meta["timings_ms"]) == {"total", "llm"}
    claim = body["claims"][0]
    assert set(claim) >= {
        "id",
        "text",
        "speaker",
        "cue",
        "evidence",
        "quote",
        "flags",
        "verification",
    }
    assert claim["speaker"]["type"] in {
        "person",
        "organization",
        "anonymous",
        "outlet",
        "document",
        "unknown",
    }
    assert assert_offset_contract(seed_text, body) > 20
    assert r.headers["x-request-id"]


@pytest.mark.parametrize(
    ("payload", "status", "slug", "mentions"),
    [
        ({"text": ""}, 422, "empty-text", "empty"),
        ({"text": " \n\t  \r\n"}, 422, "empty-text", "empty"),
        ({"text": "x" * 20_001}, 413, "text-too-long", "20,000"),
        ({}, 422, "invalid-request", "text"),
        ({"text": 42}, 422, "invalid-request", "text"),
        ({"text": ["a"]}, 422, "invalid-request", "text"),
        ({"text": "ok", "colour": "red"}, 422, "invalid-request", "colour"),
        (
            {"text": "ok", "options": {"summary_sentences": 0}},
            422,
            "invalid-request",
            "summary_sentences",
        ),
        (
            {"text": "ok", "options": {"summary_sentences": 11}},
            422,
            "invalid-request",
            "summary_sentences",
        ),
        (
            {"text": "ok", "options": {"summary_sentences": "three"}},
            422,
            "invalid-request",
            "summary_sentences",
        ),
        ({"text": "ok", "options": {"temperature": 2}}, 422, "invalid-request", "temperature"),
        ({"text": "ok", "options": {"model": ""}}, 422, "invalid-request", "model"),
        ({"text": "ok", "published_at": "yesterday"}, 422, "invalid-request", "published_at"),
        ([1, 2], 422, "invalid-request", "body"),
    ],
)
def test_bad_input_is_a_clear_problem(
    client: TestClient, fake: FakeLLM, payload: object, status: int, slug: str, mentions: str
) -> None:
    body = problem(client.post("/v1/analyses", json=payload), status, slug)
    assert mentions in json.dumps(body)
    assert fake.requests == [], "no model call for a bad request"


def test_invalid_json(client: TestClient) -> None:
    r = client.post(
        "/v1/analyses", content=b'{"text": "abc",', headers={"content-type": "application/json"}
    )
    assert "JSON" in problem(r, 400, "invalid-json")["detail"]


def test_wrong_content_type(client: TestClient) -> None:
    r = client.post(
        "/v1/analyses",
        content=b"text=hello",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    problem(r, 415, "unsupported-media-type")


def test_body_over_the_limit_is_refused(client: TestClient) -> None:
    r = client.post(
        "/v1/analyses",
        content=b'{"text": "' + b"a" * 300_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert "200,000" in problem(r, 413, "body-too-large")["detail"]


def test_chunked_body_over_the_limit_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(100):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/v1/analyses", content=chunks(), headers={"content-type": "application/json"})
    problem(r, 413, "body-too-large")


def test_invalid_output_then_valid(client: TestClient, fake: FakeLLM, seed_text: str) -> None:
    fake.enqueue("I cannot do that", seed_llm_output(seed_text))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert r.status_code == 200
    assert r.json()["meta"]["attempts"] == 2


def test_invalid_output_every_time(client: TestClient, fake: FakeLLM, seed_text: str) -> None:
    fake.enqueue("no", '{"summary": 1}', "[]")
    body = problem(
        client.post("/v1/analyses", json={"text": seed_text}), 502, "model-output-invalid"
    )
    assert body["attempts"] == 3


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    problem(client.get("/v1/nothing"), 404, "not-found")
    problem(client.delete("/v1/analyses"), 405, "method-not-allowed")


def test_health_and_readiness(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeLLM(ready=True))) as c:
        assert c.get("/healthz").json() == {"status": "ok", "model": None, "detail": None}
        assert c.get("/readyz").status_code == 200
    with TestClient(create_app(settings, FakeLLM(ready=False))) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["detail"] == "fake model is down"


def test_openapi_documents_contract_and_seed_example(client: TestClient, seed_text: str) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/analyses"]["post"]
    assert {"200", "400", "413", "422", "502", "503", "504"} <= set(op["responses"])
    request_schema = spec["components"]["schemas"]["AnalysisRequest"]
    assert request_schema["examples"][0]["text"] == seed_text
    assert "Claim" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_problem_types_are_documented(client: TestClient) -> None:
    r = client.get("/problems/model-output-invalid")
    assert r.status_code == 200 and r.json()["status"] == 502
    problem(client.get("/problems/unheard-of"), 404, "not-found")
