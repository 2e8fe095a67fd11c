"""Webhooks: signed, retried with backoff, every attempt stored; callback URLs that
point inside the network are refused (SSRF) unless the server allows them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service import errors
from service.app import create_app
from service.settings import Settings
from service.webhooks import check_callback_url, sign, verify_signature
from tests.reliability.conftest import CITES_S1, AlwaysLLM
from tests.storage.conftest import backend_settings, batch_done, wait_for


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 answering with scripted statuses."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.calls: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([500, 200])
    yield r
    r.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "ftp://example.org/",
        "http://user:pw@93.184.216.34/",
    ],
)
def test_inside_addresses_are_refused(url: str) -> None:
    with pytest.raises(errors.CallbackRefused):
        check_callback_url(url, allow_private=False)


def test_public_address_is_allowed_and_private_when_configured() -> None:
    assert check_callback_url("https://93.184.216.34/hook", False)
    assert check_callback_url("http://127.0.0.1:9/hook", True)


def test_signature_round_trip() -> None:
    body = b'{"a":1}'
    header = sign("whsec_x", 1_700_000_000, body)
    assert verify_signature("whsec_x", header, body, now=1_700_000_010)
    assert not verify_signature("whsec_x", header, body + b" ", now=1_700_000_010)
    assert not verify_signature("whsec_y", header, body, now=1_700_000_010)
    assert not verify_signature("whsec_x", header, body, now=1_700_009_999)  # replayed late


def test_api_refuses_private_callbacks(settings: Settings, database_url: str) -> None:
    always = AlwaysLLM(json.dumps(CITES_S1))
    s = backend_settings(settings, database_url)
    with TestClient(create_app(s, always), raise_server_exceptions=False) as c:
        r = c.post("/v1/analyses", json={"text": "A said b.", "callback_url": "http://127.0.0.1/"})
        assert r.status_code == 422 and r.json()["type"] == "/problems/callback-url-refused"
        r = c.post(
            "/v1/batches",
            json={"items": [{"text": "A said b."}], "callback_url": "http://10.0.0.1/"},
        )
        assert r.status_code == 422 and r.json()["type"] == "/problems/callback-url-refused"
        assert always.calls == 0


def test_analysis_webhook_is_signed_retried_and_recorded(
    settings: Settings, database_url: str, receiver: Receiver
) -> None:
    s = backend_settings(settings, database_url, webhook_allow_private=True, webhook_backoff_s=0.05)
    with TestClient(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as c:
        r = c.post(
            "/v1/analyses", json={"text": "The mayor said so.", "callback_url": receiver.url}
        )
        assert r.status_code == 200, r.text
        aid = r.json()["id"]
        wait_for(lambda: len(receiver.calls) >= 2, 10, "the retried delivery")
        secret = c.get("/v1/webhook-secret").json()["secret"]
        deliveries = wait_for(
            lambda: [
                d
                for d in c.get(f"/v1/analyses/{aid}/deliveries").json()["data"]
                if d["status"] == "delivered"
            ],
            10,
            "the delivery record",
        )
    headers, body = receiver.calls[-1]
    assert verify_signature(secret, headers["factdesk-signature"], body)
    assert headers["factdesk-event"] == "analysis.completed"
    payload = json.loads(body)
    assert payload["type"] == "analysis.completed" and payload["data"]["id"] == aid
    assert receiver.calls[0][1] == body  # the retry carries the same event
    assert [a["status_code"] for a in deliveries[0]["attempts"]] == [500, 200]


def test_batch_webhook_is_sent_once_when_it_finishes(settings: Settings, database_url: str) -> None:
    receiver = Receiver([])
    try:
        s = backend_settings(settings, database_url, webhook_allow_private=True)
        with TestClient(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as c:
            items = [{"text": f"Story {i}: police said it rained."} for i in range(4)]
            bid = c.post("/v1/batches", json={"items": items, "callback_url": receiver.url}).json()[
                "id"
            ]
            wait_for(lambda: batch_done(c, bid), 30, "the batch")
            wait_for(lambda: receiver.calls, 10, "the batch webhook")
            secret = c.get("/v1/webhook-secret").json()["secret"]
        headers, body = receiver.calls[0]
        assert len(receiver.calls) == 1
        assert verify_signature(secret, headers["factdesk-signature"], body)
        payload = json.loads(body)
        assert payload["type"] == "batch.completed"
        assert payload["data"]["id"] == bid and payload["data"]["counts"]["completed"] == 4
    finally:
        receiver.close()
