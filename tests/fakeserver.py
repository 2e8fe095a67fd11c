"""A scriptable OpenAI-compatible chat server on 127.0.0.1 (real HTTP, for fault tests)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Reply:
    """One scripted answer: an HTTP status with a body, optionally after a delay."""

    status: int = 200
    content: str | None = None  # the assistant message (status 200)
    body: Any = None  # raw JSON body (overrides content)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def chat_body(content: str, prompt_tokens: int = 50, completion_tokens: int = 10) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "local",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeModelServer:
    """Serves scripted replies in order; when the script runs out it repeats the last."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.last: Reply | None = None
        self.requests: list[dict[str, Any]] = []
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def _chat(self, request: Request) -> Response:
        self.requests.append(json.loads(await request.body()))
        reply = self.script.popleft() if self.script else self.last
        if reply is None:
            return JSONResponse({"error": {"message": "no reply scripted"}}, status_code=500)
        self.last = reply
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if reply.status == 200 and reply.body is None:
            return JSONResponse(chat_body(reply.content or ""), headers=reply.headers)
        body = (
            reply.body
            if reply.body is not None
            else {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
        )
        return JSONResponse(body, status_code=reply.status, headers=reply.headers)

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "local", "object": "model"}]})

    def start(self) -> FakeModelServer:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake model server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
