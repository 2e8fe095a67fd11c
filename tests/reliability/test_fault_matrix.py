"""Faults from the model side over real HTTP (litellm -> a scripted server on 127.0.0.1).

Extends tests/api/test_upstream.py (429 with Retry-After then success, 503/500 then
success, persistent 500 and 429, a slow answer, unreachable, auth, context window). Each
fault here has its documented outcome, a bounded number of model calls and a bounded
wall-clock time; every request gets an answer.

Bounds: ``timeout_s`` is 1.5 s and there are 3 transport attempts. A generous ceiling for
a loaded 2-core machine is what the retry policy allows plus 10 s of slack (litellm's
first call in a process alone spends ~2.5 s before any I/O).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.conftest import assert_offset_contract, seed_llm_output
from tests.fakeserver import FakeModelServer, Reply, chat_body
from tests.reliability.conftest import assert_problem

TIMEOUT_S = 1.5
SLACK_S = 10.0


@pytest.fixture
def client(settings: Settings, fake_server: FakeModelServer) -> Iterator[TestClient]:
    s = settings.model_copy(
        update={"model": "openai/local", "api_base": fake_server.base_url, "timeout_s": TIMEOUT_S}
    )
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def good(seed_text: str) -> str:
    return json.dumps(seed_llm_output(seed_text))


@dataclass(frozen=True)
class Fault:
    """One row of the matrix: what the server does, what the client must get."""

    name: str
    replies: tuple[Reply, ...]
    status: int
    slug: str | None  # None: success
    calls: int  # model calls the server must see
    budget_s: float  # what the retry policy allows, before slack


def _huge_invalid() -> Reply:
    return Reply(content="x" * 8_000_000)


def _faults(good: str) -> list[Fault]:
    body = json.dumps(chat_body(good)).encode()
    return [
        Fault(
            "429-no-retry-after-then-ok", (Reply(status=429), Reply(content=good)), 200, None, 2, 1
        ),
        Fault(
            "429-retry-after-date-then-ok",
            (
                Reply(status=429, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"}),
                Reply(content=good),
            ),
            200,
            None,
            2,
            1,
        ),
        Fault(
            "429-retry-after-too-long",
            (Reply(status=429, headers={"Retry-After": "120"}),),
            502,
            "model-rate-limited",
            1,
            1,
        ),
        Fault("500-then-ok", (Reply(status=500), Reply(content=good)), 200, None, 2, 1),
        Fault("502-then-ok", (Reply(status=502), Reply(content=good)), 200, None, 2, 1),
        Fault("502-always", (Reply(status=502),), 502, "model-upstream-error", 3, 1),
        Fault("503-always", (Reply(status=503),), 502, "model-upstream-error", 3, 1),
        Fault("reset-then-ok", (Reply(fault="reset"), Reply(content=good)), 200, None, 2, 1),
        Fault("reset-always", (Reply(fault="reset"),), 503, "model-unavailable", 3, 1),
        Fault("reset-mid-body", (Reply(fault="reset_mid_body"),), 503, "model-unavailable", 3, 1),
        Fault(
            "headers-then-silence",
            (Reply(fault="stall_body"),),
            504,
            "model-timeout",
            3,
            3 * TIMEOUT_S,
        ),
        Fault(
            "trickle-past-the-timeout",
            (Reply(fault="trickle", trickle_s=0.2, content=good),),
            504,
            "model-timeout",
            1,
            TIMEOUT_S + 5,
        ),
        Fault(
            "hang-then-ok",
            (Reply(content=good, delay_s=30), Reply(content=good)),
            200,
            None,
            2,
            TIMEOUT_S,
        ),
        Fault(
            "truncated-json-body",
            (Reply(raw=body[: len(body) // 2]),),
            502,
            "model-upstream-error",
            3,
            1,
        ),
        Fault(
            "html-body",
            (Reply(raw=b"<html><body>502 Bad Gateway</body></html>", content_type="text/html"),),
            502,
            "model-upstream-error",
            3,
            1,
        ),
        Fault(
            "invalid-json-body",
            (Reply(raw=b"{'choices': nope}"),),
            502,
            "model-upstream-error",
            3,
            1,
        ),
        Fault("empty-body", (Reply(raw=b""),), 502, "model-upstream-error", 3, 1),
        Fault(
            "truncated-json-content",
            (Reply(content=good[: len(good) // 2], finish_reason="length"),),
            502,
            "model-output-invalid",
            3,
            1,
        ),
        Fault(
            "truncated-json-content-then-ok",
            (Reply(content=good[: len(good) // 2], finish_reason="length"), Reply(content=good)),
            200,
            None,
            2,
            1,
        ),
        Fault(
            "schema-violating-json",
            (
                Reply(
                    content=json.dumps(
                        {"summary": [{"text": "x", "sentences": ["T1"]}], "claims": "none"}
                    )
                ),
            ),
            502,
            "model-output-invalid",
            3,
            1,
        ),
        Fault(
            "json-array-not-object",
            (Reply(content="[1, 2, 3]"),),
            502,
            "model-output-invalid",
            3,
            1,
        ),
        Fault(
            "empty-choices",
            (Reply(body={**chat_body(""), "choices": []}),),
            502,
            "model-output-invalid",
            3,
            1,
        ),
        Fault(
            "null-content",
            (
                Reply(
                    body={
                        **chat_body(""),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": None},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ),
            ),
            502,
            "model-output-invalid",
            3,
            1,
        ),
        Fault(
            "200-with-error-object",
            (Reply(body={"error": {"message": "overloaded"}}),),
            502,
            "model-upstream-error",
            1,
            1,
        ),
        Fault("huge-invalid-content", (_huge_invalid(),), 502, "model-output-invalid", 3, 3),
        Fault(
            "huge-padded-valid-content", (Reply(content=good + " " * 8_000_000),), 200, None, 1, 3
        ),
    ]


FAULT_NAMES = [f.name for f in _faults("{}")]


@pytest.mark.parametrize("name", FAULT_NAMES)
def test_fault(
    name: str, client: TestClient, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    fault = next(f for f in _faults(good) if f.name == name)
    fake_server.push(*fault.replies)
    t0 = time.monotonic()
    r = client.post("/v1/analyses", json={"text": seed_text})
    elapsed = time.monotonic() - t0
    if fault.slug is None:
        assert r.status_code == 200, r.text[:500]
        assert assert_offset_contract(seed_text, r.json()) > 0
    else:
        body = assert_problem(r, fault.status, fault.slug)
        assert len(body["detail"]) < 1_000, "no huge upstream text in the problem"
    assert len(fake_server.requests) == fault.calls, "bounded and as documented"
    assert elapsed < fault.budget_s + SLACK_S, f"{elapsed:.1f}s"
    assert r.headers["x-request-id"]


def test_rate_limited_passes_retry_after_on(
    client: TestClient, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.push(Reply(status=429, headers={"Retry-After": "120"}))
    r = client.post("/v1/analyses", json={"text": seed_text})
    assert_problem(r, 502, "model-rate-limited")
    assert r.headers["retry-after"] == "120"


async def test_every_request_is_answered_under_mixed_faults(
    settings: Settings, fake_server: FakeModelServer, seed_text: str, good: str
) -> None:
    """30 concurrent requests while the server alternates faults: each gets a 200 or a
    problem+json, none is dropped, and all finish within the retry budget."""
    s = settings.model_copy(
        update={"api_base": fake_server.base_url, "timeout_s": TIMEOUT_S, "max_reasks": 1}
    )
    cycle = [
        Reply(status=503),
        Reply(fault="reset"),
        Reply(content=good),
        Reply(status=429),
        Reply(content="not json"),
        Reply(raw=b"<html>"),
        Reply(content=good, delay_s=0.2),
    ]
    fake_server.push(*(cycle * 30))
    fake_server.push(Reply(content=good))
    app = create_app(s)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        t0 = time.monotonic()
        responses = await asyncio.gather(
            *(c.post("/v1/analyses", json={"text": seed_text}, timeout=60) for _ in range(30))
        )
        elapsed = time.monotonic() - t0
    statuses = [r.status_code for r in responses]
    assert len(responses) == 30
    for r in responses:
        if r.status_code != 200:
            assert_problem(r, r.status_code)
            assert r.status_code in (502, 503, 504)
    assert statuses.count(200) >= 1
    assert elapsed < 30 + SLACK_S
