"""A scriptable OpenAI-compatible chat server on 127.0.0.1 (real HTTP, for fault tests).

Besides scripted statuses and bodies it injects transport faults that a plain ASGI app
cannot produce: a TCP reset, a body cut off after the headers, headers and then silence,
a body that trickles in byte by byte. Those write to the connection's transport directly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

Fault = Literal["reset", "reset_mid_body", "stall_body", "trickle"]


@dataclass
class Reply:
    """One scripted answer: an HTTP status with a body, optionally after a delay.

    ``raw`` sends those bytes verbatim as the body (with a correct Content-Length);
    ``fault`` breaks the transport instead of answering properly:

    * ``reset``: TCP RST before any byte of a response;
    * ``reset_mid_body``: status line, headers and half the body, then RST;
    * ``stall_body``: status line and headers, then nothing (the body never comes);
    * ``trickle``: a valid response sent one byte every ``trickle_s`` seconds.
    """

    status: int = 200
    content: str | None = None  # the assistant message (status 200)
    body: Any = None  # raw JSON body (overrides content)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw: bytes | None = None
    content_type: str = "application/json"
    fault: Fault | None = None
    trickle_s: float = 0.2
    finish_reason: str = "stop"


def chat_body(
    content: str,
    prompt_tokens: int = 50,
    completion_tokens: int = 10,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """An OpenAI chat.completion body carrying ``content`` as the assistant message."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "local",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class FakeModelServer:
    """Serves scripted replies in order; when the script runs out it repeats the last.
    ``always(reply)`` answers every request with the same reply instead (concurrency)."""

    def __init__(self, keep_alive_s: int = 5) -> None:
        self.keep_alive_s = keep_alive_s  # idle connections closed after (uvicorn's default)
        self.script: deque[Reply] = deque()
        self.last: Reply | None = None
        self.fixed: Reply | None = None
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self.peers: list[tuple[str, int] | None] = []  # client address of each request
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._transports: dict[tuple[str, int], asyncio.Transport] = {}
        self._stopping = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def open_connections(self) -> int:
        """Connections to this server that are open right now."""
        return len(self._transports)

    def push(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def always(self, reply: Reply) -> None:
        """Answer every request with ``reply`` (each after its own ``delay_s``)."""
        self.fixed = reply

    def _next(self) -> Reply | None:
        if self.fixed is not None:
            return self.fixed
        reply = self.script.popleft() if self.script else self.last
        if reply is not None:
            self.last = reply
        return reply

    async def _chat(self, request: Request) -> Response:
        self.requests.append(json.loads(await request.body()))
        self.headers_seen.append({k.lower(): v for k, v in request.headers.items()})
        client = request.scope.get("client")
        self.peers.append(tuple(client) if client else None)
        reply = self._next()
        if reply is None:
            return JSONResponse({"error": {"message": "no reply scripted"}}, status_code=500)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if reply.delay_s:
                await self._sleep(reply.delay_s)
            if reply.fault is not None:
                client = request.scope.get("client")
                transport = self._transports.get(tuple(client)) if client else None
                if transport is None:
                    raise RuntimeError("no transport for this connection")
                await self._break(transport, reply)
                return Response(status_code=204)  # never reaches the closed connection
            if reply.raw is not None:
                return Response(
                    reply.raw,
                    status_code=reply.status,
                    headers=reply.headers,
                    media_type=reply.content_type,
                )
            if reply.status == 200 and reply.body is None:
                body = chat_body(reply.content or "", finish_reason=reply.finish_reason)
                return JSONResponse(body, headers=reply.headers)
            body = (
                reply.body
                if reply.body is not None
                else {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
            )
            return JSONResponse(body, status_code=reply.status, headers=reply.headers)
        finally:
            self.in_flight -= 1

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server is stopping."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, deadline - time.monotonic()))

    async def _break(self, transport: asyncio.Transport, reply: Reply) -> None:
        body = json.dumps(chat_body(reply.content or "")).encode()
        head = (
            f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode()
        if reply.fault == "reset":
            _reset(transport)
        elif reply.fault == "reset_mid_body":
            transport.write(head + body[: len(body) // 2])
            await asyncio.sleep(0.05)
            _reset(transport)
        elif reply.fault == "stall_body":
            transport.write(head)
            while not transport.is_closing() and not self._stopping:
                await asyncio.sleep(0.05)
        elif reply.fault == "trickle":
            data = head + body
            for i in range(len(data)):
                if transport.is_closing() or self._stopping:
                    break
                transport.write(data[i : i + 1])
                await self._sleep(reply.trickle_s)
        if not transport.is_closing():
            transport.close()
        await asyncio.sleep(0.01)  # let uvicorn see the connection is gone

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "local", "object": "model"}]})

    def _protocol_class(self) -> type[asyncio.Protocol]:
        registry = self._transports

        class Recording(HttpToolsProtocol):
            """uvicorn's protocol, remembering each connection's transport by peer."""

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                if self.client:
                    registry[(self.client[0], self.client[1])] = transport

            def connection_lost(self, exc: Exception | None) -> None:
                if self.client:
                    registry.pop((self.client[0], self.client[1]), None)
                super().connection_lost(exc)

        return Recording

    def start(self) -> FakeModelServer:
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            http=self._protocol_class(),
            timeout_graceful_shutdown=2,
            timeout_keep_alive=self.keep_alive_s,
        )
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
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def _reset(transport: asyncio.Transport) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not an orderly FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
