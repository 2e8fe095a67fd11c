"""A fixed-latency OpenAI-compatible model server for the throughput benchmark.

``POST /v1/chat/completions`` waits ``--latency`` seconds (without using CPU), then answers
with a valid FactDesk reply built from the numbered sentences of the prompt it was sent
(:func:`benchmarks.common.reply_for_prompt`, cached per prompt). ``GET /v1/models`` serves
readiness, ``GET /stats`` counts calls, and ``--record FILE`` appends each request body
to FILE as one line (the benchmark uses it to capture the exact calls FactDesk makes).

Run: ``python -m benchmarks.fake_model_server --port 9100 --latency 1.0`` (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .common import reply_for_prompt, shape_reply


def _response(body: dict[str, Any]) -> bytes:
    """The chat-completion response for one request body."""
    messages = body.get("messages", [])
    schema = (body.get("response_format") or {}).get("schema") or {}
    n = int(schema.get("properties", {}).get("summary", {}).get("maxItems", 3))
    text = shape_reply(reply_for_prompt(messages, n), schema)
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in messages) // 4
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "local"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(text) // 4,
                "total_tokens": prompt_tokens + len(text) // 4,
            },
        }
    ).encode("utf-8")


def build_app(latency_s: float, record: Path | None = None) -> Starlette:
    """The fake server's ASGI app."""
    responses: dict[str, bytes] = {}  # request body hash -> response body
    stats = {"chat_completions": 0, "in_flight": 0, "max_in_flight": 0}

    async def models(_: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "local", "object": "model"}]})

    async def get_stats(_: Request) -> Response:
        return JSONResponse(stats)

    async def chat(request: Request) -> Response:
        started = time.monotonic()
        raw = await request.body()
        stats["chat_completions"] += 1
        stats["in_flight"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            if record is not None:
                with record.open("ab") as out:  # a JSON body has no raw newline
                    out.write(raw.strip() + b"\n")
            key = hashlib.sha256(raw).hexdigest()
            payload = responses.get(key)
            if payload is None:
                payload = responses[key] = _response(json.loads(raw))
            await asyncio.sleep(max(0.0, latency_s - (time.monotonic() - started)))
        finally:
            stats["in_flight"] -= 1
        return Response(payload, media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/models", models),
            Route("/stats", get_stats),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/chat/completions", chat, methods=["POST"]),
        ]
    )


def main() -> None:
    """Serve on 127.0.0.1 until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per completion")
    parser.add_argument("--record", type=Path, help="append request bodies to FILE")
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.latency, args.record),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=1024,
        # longer than the longest latency, so a pooled connection is never closed by the
        # server just as the client reuses it (uvicorn's default is 5 s)
        timeout_keep_alive=120,
    )


if __name__ == "__main__":
    main()
