"""Figures 2 and 5: end-to-end latency with the local default model against a raw call to
the same server, and prompt tokens per article token.

The benchmark starts its OWN llama.cpp server (``service.localmodel.start``) on a free
port, so nothing else shares it, and stops it at the end. The raw call is byte-for-byte
the requests FactDesk makes: the pipeline is first pointed at a recording fake server and
the exact JSON bodies litellm sent (messages, ``response_format`` with the schema,
temperature, ``max_tokens``; the summary and the claims call of ``analyze.v2``) are
replayed to the llama.cpp server with plain httpx, together, as the pipeline sends them.
Run alone: ``python -m benchmarks.local_model``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from service import localmodel
from service.llm import LiteLLMClient
from service.pipeline import analyze
from service.prompts import load_prompt
from service.schemas import AnalysisRequest
from service.settings import LOCAL_MODEL, Settings
from service.text import prepare

from .common import (
    InstantLLM,
    article_of_words,
    drop_logs,
    free_port,
    reply_for_text,
    rss_mb,
    seed_text,
    start_python,
    stop,
    summary,
    variants,
    wait_http,
)

# A different, tiny prompt sent before every measured call: it replaces the server's
# cached prefix, so each measured call evaluates its whole prompt, as a new article would.
FLUSH = {
    "model": "local",
    "messages": [{"role": "user", "content": "Say OK."}],
    "max_tokens": 1,
    "temperature": 0,
}


def capture_bodies(text: str, settings: Settings, logs: Path) -> list[bytes]:
    """The exact HTTP bodies FactDesk sends to the model for ``text``, in the order they
    arrived (recorded by a fake model server the pipeline is pointed at)."""
    port = free_port()
    record = logs / "captured-request.json"
    fake = start_python(
        [
            "-m",
            "benchmarks.fake_model_server",
            "--port",
            str(port),
            "--latency",
            "0",
            "--record",
            str(record),
        ],
        log=logs / "capture.log",
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", 30, fake)
        capturing = settings.model_copy(
            update={"api_base": f"http://127.0.0.1:{port}/v1", "transport_retries": 0}
        )
        prompt = load_prompt(capturing.prompts_dir, "analyze", capturing.prompt_version)
        asyncio.run(
            analyze(AnalysisRequest(text=text), capturing, LiteLLMClient(capturing), prompt)
        )
        return record.read_bytes().splitlines()
    finally:
        stop(fake)


def _tokens(client: httpx.Client, base: str, text: str) -> int:
    # llama.cpp's native server; llama-cpp-python's server has it under /extras
    r = client.post(base + "/tokenize", json={"content": text})
    if r.status_code == 404:
        r = client.post(base + "/extras/tokenize", json={"input": text})
    r.raise_for_status()
    return len(r.json()["tokens"])


def _flush(client: httpx.Client, base: str) -> None:
    client.post(base + "/v1/chat/completions", json=FLUSH).raise_for_status()


def run(pairs: int = 7, budget_s: float = 300.0) -> dict[str, Any]:
    """Start a private model server and the API, time ``pairs`` end-to-end and raw calls
    (alternating which goes first), count tokens; stop everything."""
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="factdesk-bench-"))
    port = free_port()
    settings = Settings().model_copy(
        update={"model": LOCAL_MODEL, "api_base": None, "local_model_port": port}
    )
    text = seed_text()
    bodies = capture_bodies(text, settings, logs)
    sent = json.loads(bodies[0])
    server = api = None
    failed = False
    try:
        t0 = time.monotonic()
        server = localmodel.start(settings, logs / "model-server.log")
        model_start_s = time.monotonic() - t0
        base = f"http://127.0.0.1:{port}"
        api_port = free_port()
        api = start_python(
            ["-m", "benchmarks.api_server", "--port", str(api_port)],
            env={
                # every request is a new analysis: the result cache would skip the model
                "FACTDESK_RESULT_CACHE": "false",
                "FACTDESK_MODEL": LOCAL_MODEL,
                "FACTDESK_API_BASE": "",
                "FACTDESK_LOCAL_MODEL_PORT": str(port),
                "FACTDESK_LOCAL_SERVER": "never",
                "FACTDESK_TIMEOUT_S": "300",
                "FACTDESK_TRANSPORT_RETRIES": "0",
            },
            log=logs / "api.log",
        )
        api_url = f"http://127.0.0.1:{api_port}/v1/analyses"
        wait_http(f"http://127.0.0.1:{api_port}/healthz", 60, api)
        requests = [json.dumps({"text": t}).encode("utf-8") for t in variants(text, 16)]
        headers = {"content-type": "application/json"}
        with httpx.Client(timeout=320) as client:
            # Tokens (figure 5): the server's own tokenizer.
            article_tokens = _tokens(client, base, text)
            doc = prepare(text)
            analysed_tokens = _tokens(client, base, "\n".join(s.text for s in doc.sentences))
            content_tokens = sum(
                _tokens(client, base, "\n".join(m["content"] for m in json.loads(b)["messages"]))
                for b in bodies
            )

            def e2e() -> dict[str, Any]:
                t = time.perf_counter()
                r = client.post(api_url, content=requests.pop(), headers=headers)
                wall = time.perf_counter() - t
                r.raise_for_status()
                meta = r.json()["meta"]
                return {
                    "s": wall,
                    "attempts": meta["attempts"],
                    "prompt_tokens": meta["usage"]["prompt_tokens"],
                    "completion_tokens": meta["usage"]["completion_tokens"],
                    "llm_ms": meta["timings_ms"]["llm"],
                }

            def one(body: bytes) -> dict[str, int]:
                r = client.post(base + "/v1/chat/completions", content=body, headers=headers)
                r.raise_for_status()
                usage: dict[str, int] = r.json()["usage"]
                return usage

            def raw() -> dict[str, Any]:
                # the same calls, sent together as the pipeline sends them
                t = time.perf_counter()
                with ThreadPoolExecutor(len(bodies)) as pool:
                    usages = list(pool.map(one, bodies))
                wall = time.perf_counter() - t
                return {
                    "s": wall,
                    "prompt_tokens": sum(u["prompt_tokens"] for u in usages),
                    "completion_tokens": sum(u["completion_tokens"] for u in usages),
                }

            # Warm-up, not measured: page the model in (raw), import litellm in the API
            # (e2e, cheap right after the raw call thanks to the server's prefix cache).
            _flush(client, base)
            warm: dict[str, Any] = {}
            failures: list[str] = []
            for kind, call in (("raw", raw), ("e2e", e2e)):
                try:
                    warm[kind] = call()
                except httpx.HTTPError as exc:
                    failures.append(f"warm-up {kind}: {exc}")
            rows: list[dict[str, Any]] = []
            for i in range(pairs):
                if i >= 3 and time.monotonic() - started > budget_s:
                    break
                order = ("e2e", "raw") if i % 2 == 0 else ("raw", "e2e")
                row: dict[str, Any] = {}
                try:
                    for kind in order:
                        _flush(client, base)
                        row[kind] = e2e() if kind == "e2e" else raw()
                except httpx.HTTPError as exc:  # a timeout on a busy machine: skip the pair
                    failures.append(f"pair {i}: {exc}")
                    continue
                rows.append(row)
            if not rows:
                raise RuntimeError("no end-to-end/raw pair completed: " + "; ".join(failures))
            seed_prompt_tokens = statistics.median(r["e2e"]["prompt_tokens"] for r in rows)
            template_tokens = (seed_prompt_tokens - content_tokens) / len(bodies)
            ratio_5000w = tokens_for_text(client, base, article_of_words(5_000), template_tokens)
        model_rss = rss_mb(server.process.pid) if server.process else {}
    except BaseException:
        failed = True
        raise
    finally:
        stop(api)
        if server is not None:
            server.stop()
        drop_logs(logs, failed)

    e2e_s = [r["e2e"]["s"] for r in rows]
    raw_s = [r["raw"]["s"] for r in rows]
    pair_ratios = [r["e2e"]["s"] / r["raw"]["s"] for r in rows]
    prompt_tokens = seed_prompt_tokens
    return {
        "article": "seed",
        "model": LOCAL_MODEL,
        "request_settings": {
            "temperature": sent.get("temperature"),
            "max_tokens": sent.get("max_tokens"),
            "response_format_type": (sent.get("response_format") or {}).get("type"),
            "messages": len(sent.get("messages", [])),
        },
        "model_server_start_s": round(model_start_s, 1),
        "warmup": warm,
        "failures": failures,
        "e2e_s": summary(e2e_s),
        "raw_s": summary(raw_s),
        "e2e_over_raw_pairs": summary(pair_ratios),
        "e2e_over_raw_of_medians": round(statistics.median(e2e_s) / statistics.median(raw_s), 3),
        "e2e_minus_raw_ms": summary([(a - b) * 1000 for a, b in zip(e2e_s, raw_s, strict=True)]),
        # Inside each end-to-end call: the model call as FactDesk timed it (meta.timings_ms
        # .llm) and everything else (HTTP to the API, pipeline, serialisation).
        "e2e_outside_model_ms": summary([r["e2e"]["s"] * 1000 - r["e2e"]["llm_ms"] for r in rows]),
        "e2e_model_call_over_raw_pairs": summary(
            [r["e2e"]["llm_ms"] / 1000 / r["raw"]["s"] for r in rows]
        ),
        "same_output": all(
            r["e2e"]["completion_tokens"] == r["raw"]["completion_tokens"]
            and r["e2e"]["prompt_tokens"] == r["raw"]["prompt_tokens"]
            for r in rows
        ),
        "attempts": [r["e2e"]["attempts"] for r in rows],
        "pairs": rows,
        "tokens": {
            "method": "llama.cpp server usage.prompt_tokens of the real calls; article "
            "tokens from its POST /extras/tokenize",
            "prompt_tokens": prompt_tokens,
            "article_tokens_sent": article_tokens,
            "article_tokens_analysed": analysed_tokens,
            "prompt_token_ratio": round(prompt_tokens / article_tokens, 3),
            "prompt_token_ratio_vs_analysed": round(prompt_tokens / analysed_tokens, 3),
            "chat_template_tokens": template_tokens,
            "model_calls_per_article": statistics.median(r["e2e"]["attempts"] for r in rows),
        },
        "prompt_token_ratio_5000w_estimated": round(ratio_5000w, 3),
        "model_server_rss_mb": model_rss,
    }


def tokens_for_text(client: httpx.Client, base: str, text: str, template_tokens: float) -> float:
    """Prompt tokens ÷ article tokens for ``text`` without a model call: the rendered
    messages of every call tokenized by the server plus the chat template's tokens per
    call measured on the seed."""
    settings = Settings()
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    llm = InstantLLM(reply_for_text(text), keep_requests=True)
    asyncio.run(analyze(AnalysisRequest(text=text), settings, llm, prompt))
    content = sum(
        _tokens(client, base, "\n".join(m["content"] for m in request.messages))
        for request in llm.requests
    )
    calls = len(llm.requests)
    return (content + calls * template_tokens) / _tokens(client, base, text)


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(args.pairs), indent=2))


if __name__ == "__main__":
    main()
