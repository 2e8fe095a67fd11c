"""API keys, per-key rate limits, the body limit on a real server, request ids, the
request log line, and the last-resort 500 guard."""

from __future__ import annotations

import hmac
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service import security
from service.app import create_app
from service.llm import Completion, CompletionRequest
from service.security import ApiKeys, RateLimiter, hash_key
from service.settings import Settings
from tests.reliability.conftest import CITES_S1, AlwaysLLM, LiveServer, assert_problem

KEY_A = "fd-test-key-alpha-7c1e"
KEY_B = "fd-test-key-bravo-93d0"
ARTICLE = {"text": "The mayor said 40 people fled the town on Friday."}


def _app_settings(settings: Settings, **update: object) -> Settings:
    return settings.model_copy(update=update)


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient]:
    s = _app_settings(settings, api_keys=(hash_key(KEY_A), hash_key(KEY_B)))
    with TestClient(
        create_app(s, AlwaysLLM(json.dumps(CITES_S1))), raise_server_exceptions=False
    ) as c:
        yield c


# ----------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": "Bearer "},
        {"X-API-Key": KEY_A[:-1]},
        {"X-API-Key": hash_key(KEY_A)},
    ],
    ids=["none", "wrong", "basic-scheme", "empty-bearer", "prefix", "the-hash-itself"],
)
def test_v1_without_a_valid_key_is_401(keyed: TestClient, headers: dict[str, str]) -> None:
    r = keyed.post("/v1/analyses", json=ARTICLE, headers=headers)
    body = assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert KEY_A not in r.text and hash_key(KEY_A) not in r.text
    assert body["instance"] == "/v1/analyses"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY_A}"},
        {"Authorization": f"bearer   {KEY_B}"},
        {"X-API-Key": KEY_A},
    ],
    ids=["bearer", "lowercase-bearer-second-key", "x-api-key"],
)
def test_v1_with_a_valid_key_is_served(keyed: TestClient, headers: dict[str, str]) -> None:
    r = keyed.post("/v1/analyses", json=ARTICLE, headers=headers)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "path", ["/v1/analyses/", "/v1/unknown", "/%76%31/analyses", "/v1/analyses?x=1"]
)
def test_every_v1_path_spelling_needs_a_key(keyed: TestClient, path: str) -> None:
    assert_problem(keyed.post(path, json=ARTICLE), 401, "unauthorized")


def test_the_key_is_checked_before_the_body(keyed: TestClient) -> None:
    r = keyed.post("/v1/analyses", content=b"x" * 5_000_000, headers={"content-type": "text/plain"})
    assert_problem(r, 401, "unauthorized")


def test_health_readiness_and_docs_stay_open(keyed: TestClient) -> None:
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200
    assert keyed.get("/openapi.json").status_code == 200
    doc = keyed.get("/problems/unauthorized")
    assert doc.status_code == 200 and doc.json()["status"] == 401
    for slug, status in [("rate-limited", 429), ("duplicate-keys", 422), ("empty-text", 422)]:
        assert keyed.get(f"/problems/{slug}").json()["status"] == status
    assert_problem(keyed.get("/problems/nonsense"), 404, "not-found")


def test_every_digest_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ApiKeys(tuple(hash_key(k) for k in ("k1", "k2", "k3")))
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    assert keys.identify("k1") == hash_key("k1")
    assert len(calls) == 3, "no early exit on a match"
    calls.clear()
    assert keys.identify("nope") is None
    assert len(calls) == 3
    assert ApiKeys().identify("k1") is None and not ApiKeys().enabled


def test_settings_take_comma_separated_digests_and_refuse_raw_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACTDESK_API_KEYS", f"{hash_key('a').upper()}, {hash_key('b')}")
    monkeypatch.setenv("FACTDESK_RATE_LIMIT_PER_MINUTE", "")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.api_keys == (hash_key("a"), hash_key("b"))
    assert s.rate_limit_per_minute is None and s.log_article_text is False
    monkeypatch.setenv("FACTDESK_API_KEYS", "my-raw-key")
    with pytest.raises(ValidationError, match="SHA-256"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("FACTDESK_API_KEYS", "")
    assert Settings(_env_file=None).api_keys == ()  # type: ignore[call-arg]


# ----------------------------------------------------------------------------- rate limit


def test_rate_limit_is_per_key_with_retry_after(settings: Settings) -> None:
    s = _app_settings(
        settings, api_keys=(hash_key(KEY_A), hash_key(KEY_B)), rate_limit_per_minute=3
    )
    with TestClient(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as c:
        a = {"X-API-Key": KEY_A}
        assert [c.post("/v1/analyses", json=ARTICLE, headers=a).status_code for _ in range(3)] == [
            200
        ] * 3
        r = c.post("/v1/analyses", json=ARTICLE, headers=a)
        assert_problem(r, 429, "rate-limited")
        assert 1 <= int(r.headers["retry-after"]) <= 20
        assert r.headers["x-request-id"]
        assert c.post("/v1/analyses", json=ARTICLE, headers={"X-API-Key": KEY_B}).status_code == 200
        assert c.get("/healthz").status_code == 200, "health is never limited"
        bad = c.post("/v1/analyses", json=ARTICLE, headers={"X-API-Key": "wrong"})
        assert_problem(bad, 401, "unauthorized")


def test_rate_limit_without_keys_is_per_client(settings: Settings) -> None:
    s = _app_settings(settings, rate_limit_per_minute=2)
    with TestClient(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as c:
        codes = [c.post("/v1/analyses", json=ARTICLE).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_token_bucket_refills_and_stays_bounded() -> None:
    limiter = RateLimiter(per_minute=60, max_clients=100)
    now = 1000.0
    assert all(limiter.acquire("a", now) is None for _ in range(60))
    assert limiter.acquire("a", now) == 1.0
    assert limiter.acquire("a", now + 1.0) is None, "one token per second"
    assert limiter.acquire("a", now + 1.0) is not None
    for i in range(1_000):
        limiter.acquire(f"client-{i}", now + 2)
    assert len(limiter._buckets) <= 100
    slow = RateLimiter(per_minute=1)
    assert slow.acquire("x", now) is None
    assert slow.acquire("x", now) == 60


# ----------------------------------------------------------------------------- request id, logs


@pytest.mark.parametrize(
    ("offered", "echoed"),
    [("req-42.a:b_c", True), ("x" * 129, False), ("evil\tid", False), ("", False)],
    ids=["plain", "too-long", "control-char", "empty"],
)
def test_request_id_is_echoed_only_when_plain(
    keyed: TestClient, offered: str, echoed: bool
) -> None:
    headers = {"X-Request-ID": offered} if offered else {}
    r = keyed.get("/healthz", headers=headers)
    assert (r.headers["x-request-id"] == offered) is echoed
    assert 1 <= len(r.headers["x-request-id"]) <= 128


def test_one_log_line_per_request_and_article_text_only_on_request(
    settings: Settings, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    secret_sentence = "The mayor said 40 people fled the town on Friday."
    for opt_in in (False, True):
        caplog.clear()
        s = _app_settings(settings, log_article_text=opt_in)
        # a store of its own, so the second app's call is not answered from the cache
        s = s.model_copy(update={"data_dir": tmp_path / f"data-{opt_in}"})
        with TestClient(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as c:
            assert c.post("/v1/analyses", json=ARTICLE).status_code == 200
            assert c.post("/v1/analyses", json={"text": ""}).status_code == 422
            assert c.get("/healthz").status_code == 200
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "factdesk.access"]
        assert [(x["method"], x["path"], x["status"]) for x in lines] == [
            ("POST", "/v1/analyses", 200),
            ("POST", "/v1/analyses", 422),
            ("GET", "/healthz", 200),
        ]
        ok, empty, _health = lines
        assert ok["model"] == "openai/local" and ok["attempts"] == 1
        assert ok["ms"] >= ok["llm_ms"] >= 0 and ok["body_bytes"] > 0
        assert empty["problem"] == "empty-text" and "model" not in empty
        assert len({x["request_id"] for x in lines}) == 3
        if opt_in:
            assert ok["article_text"] == secret_sentence
        else:
            assert all("article_text" not in x for x in lines)
            assert secret_sentence not in caplog.text


class Exploding:
    """A model client with a bug: it raises something that is not a ModelError."""

    async def complete(self, request: CompletionRequest) -> Completion:
        raise RuntimeError("bug in a model client")

    async def ready(self, model: str) -> tuple[bool, str]:
        return True, "ok"


def test_an_unexpected_error_is_a_500_problem_with_request_id(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with TestClient(create_app(settings, Exploding())) as c:
        r = c.post("/v1/analyses", json=ARTICLE, headers={"X-Request-ID": "boom-1"})
    body = assert_problem(r, 500, "internal-error")
    assert "bug in a model client" not in body["detail"], "internals stay in the log"
    assert r.headers["x-request-id"] == "boom-1"
    access = [json.loads(x.getMessage()) for x in caplog.records if x.name == "factdesk.access"]
    assert access[-1]["status"] == 500 and access[-1]["request_id"] == "boom-1"


# ----------------------------------------------------------------------------- real server


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    s = _app_settings(settings, max_body_bytes=200_000)
    with LiveServer(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as live:
        yield live


def _status_line(sock: socket.socket, wait_s: float = 15) -> str:
    sock.settimeout(wait_s)
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test_real_server_refuses_a_chunked_10mb_body_early(server: LiveServer) -> None:
    """Chunked upload of 10 MB: the 413 arrives while most of it is still unsent."""
    sock = server.raw()
    sock.sendall(
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"a" * 65_536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    sock.setblocking(False)
    deadline = time.monotonic() + 30
    while sent < 10 * 1024 * 1024 and time.monotonic() < deadline:
        readable, writable, _ = select.select([sock], [sock], [], 1)
        if readable:
            break
        if writable:
            try:
                sent += sock.send(framed)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                break
    sock.setblocking(True)
    assert " 413 " in _status_line(sock)
    assert sent < 10 * 1024 * 1024 / 2, f"sent {sent:,} bytes before the answer"
    sock.close()


def test_real_server_refuses_a_declared_10mb_body_without_waiting(server: LiveServer) -> None:
    sock = server.raw()
    sock.sendall(
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 10485760\r\n\r\n"
    )
    t0 = time.monotonic()
    assert " 413 " in _status_line(sock)
    assert time.monotonic() - t0 < 5
    sock.close()


def test_real_server_with_a_lying_content_length(server: LiveServer) -> None:
    """Content-Length says 40 but 10 MB follow: the server reads 40 bytes, answers a
    4xx problem, and drops the connection instead of reading the rest."""
    sock = server.raw()
    head = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 40\r\n\r\n"
    )
    sent = [0]

    def flood() -> None:
        try:
            sock.sendall(head)
            payload = b'{"text": "' + b"a" * 65_536
            while sent[0] < 10 * 1024 * 1024:
                sock.sendall(payload)
                sent[0] += len(payload)
        except OSError:
            return

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    status = _status_line(sock)
    assert status.startswith("HTTP/1.1 4"), status
    thread.join(timeout=20)
    assert not thread.is_alive()
    sock.close()


def test_real_server_answers_a_normal_request(server: LiveServer) -> None:
    r = httpx.post(f"{server.url}/v1/analyses", json=ARTICLE, timeout=30)
    assert r.status_code == 200 and r.headers["x-request-id"]
