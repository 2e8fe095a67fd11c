"""Shared helpers for the reliability tests: an always-answering fake model, a real
uvicorn server for the API on 127.0.0.1, and problem+json assertions."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from service.errors import Usage
from service.llm import Completion, CompletionRequest
from tests.fakeserver import _free_port

PROBLEM = "application/problem+json"

#: A valid model answer for any article: one summary sentence citing S1.
CITES_S1: dict[str, Any] = {
    "summary": [{"text": "The article says something.", "sentences": ["S1"]}],
    "claims": [
        {
            "text": "Something was said.",
            "speaker": None,
            "speaker_type": "unknown",
            "cue": None,
            "sentences": ["S1"],
            "quote": None,
        }
    ],
    "flags": [],
}


class AlwaysLLM:
    """A model that answers every call with the same valid reply (for input tests)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> Completion:
        self.calls += 1
        return Completion(text=self.reply, usage=Usage(10, 5, 0.0), model=request.model)

    async def ready(self, model: str) -> tuple[bool, str]:
        return True, "always"


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """The response is a problem+json with this status (and slug), and a detail."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    assert body["status"] == status and body["title"] and body["detail"]
    return body


class LiveServer:
    """The API under a real uvicorn server on 127.0.0.1, in a background thread."""

    def __init__(self, app: FastAPI, **config: Any) -> None:
        self.port = _free_port()
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **config)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def raw(self) -> socket.socket:
        """A plain TCP connection to the server (for hand-written HTTP)."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)
