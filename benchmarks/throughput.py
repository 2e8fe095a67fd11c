"""Figures 3 and 4: throughput through the real HTTP API against a fake model with a fixed
latency, and the API process's memory (idle, one 5,000-word article, 100 concurrent).

The API (``benchmarks.api_server``: uvicorn, one process) and the fake model server
(``benchmarks.fake_model_server``) run as separate processes on 127.0.0.1; clients are
``httpx.AsyncClient`` tasks in this process, each sending its next request as soon as the
previous one returns. Run alone: ``python -m benchmarks.throughput``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from service.llm import LiteLLMClient
from service.pipeline import analyze
from service.prompts import load_prompt
from service.schemas import AnalysisRequest
from service.settings import LOCAL_MODEL, Settings

from .common import (
    InstantLLM,
    article_of_words,
    cpu_seconds,
    drop_logs,
    free_port,
    reply_for_text,
    reset_peak_rss,
    rss_mb,
    seed_text,
    start_python,
    stop,
    summary,
    variants,
    wait_http,
    word_count,
)

LATENCY_S = 1.0
LEVELS = (1, 10, 100)


async def _load(
    clients: list[httpx.AsyncClient], url: str, bodies: list[bytes], per_client: int
) -> tuple[int, int, float]:
    """Each client sends ``per_client`` requests back to back (the bodies in turn), all
    clients at once: ``(ok, failed, wall seconds)``."""
    ok = failed = sent = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok, failed, sent
        for _ in range(per_client):
            body = bodies[sent % len(bodies)]
            sent += 1
            try:
                r = await client.post(
                    url, content=body, headers={"content-type": "application/json"}
                )
            except httpx.HTTPError:
                failed += 1
                continue
            if r.status_code == 200:
                ok += 1
            else:
                failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    return ok, failed, time.perf_counter() - t0


def _calls(stats_url: str) -> int:
    calls: int = httpx.get(stats_url, timeout=5).json()["chat_completions"]
    return calls


async def _level(
    pids: dict[str, int],
    url: str,
    stats_url: str,
    bodies: list[bytes],
    concurrency: int,
    per_client: int,
    reps: int,
) -> dict[str, Any]:
    rates: list[float] = []
    effs: list[float] = []
    peaks: list[float] = []
    cpu_ms: list[float] = []
    failures = 0
    calls_before = _calls(stats_url)
    requests = 0
    fake_ms: list[float] = []
    client_ms: list[float] = []
    api_pid = pids["api"]
    # One client (one keep-alive connection) per simulated user: a single shared client
    # with 100 connections spends ~25 ms of CPU per request in its pool bookkeeping,
    # CPU the API under test would then not get.
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=120))
            for _ in range(concurrency)
        ]
        await _load(clients, url, bodies, 1)  # warm-up: open the connections
        requests += concurrency
        for _ in range(reps):
            reset_peak_rss(api_pid)
            cpu0 = cpu_seconds(api_pid)
            fake0, client0 = cpu_seconds(pids["fake_model"]), time.process_time()
            ok, failed, wall = await _load(clients, url, bodies, per_client)
            n = max(1, ok + failed)
            requests += n
            failures += failed
            rate = ok / wall
            rates.append(rate)
            effs.append(rate / (concurrency / LATENCY_S))
            peaks.append(rss_mb(api_pid)["peak"])
            cpu_ms.append((cpu_seconds(api_pid) - cpu0) * 1000 / n)
            fake_ms.append((cpu_seconds(pids["fake_model"]) - fake0) * 1000 / n)
            client_ms.append((time.process_time() - client0) * 1000 / n)
    calls = _calls(stats_url) - calls_before
    return {
        "concurrency": concurrency,
        "requests_per_rep": concurrency * per_client,
        "reps": reps,
        "requests_per_s": summary(rates),
        "ideal_requests_per_s": concurrency / LATENCY_S,
        "efficiency": summary(effs),
        "failed_requests": failures,
        "api_peak_rss_mb": summary(peaks, 1),
        "api_cpu_ms_per_request": summary(cpu_ms, 1),
        # The API runs each request's CPU work on one event loop and the clients move in
        # step, so a round of `concurrency` requests takes about latency + concurrency x
        # CPU per request: efficiency ~ latency / (latency + concurrency x CPU).
        "efficiency_predicted_from_cpu": round(
            LATENCY_S / (LATENCY_S + concurrency * statistics.median(cpu_ms) / 1000), 3
        ),
        "fake_model_cpu_ms_per_request": summary(fake_ms, 1),
        "client_cpu_ms_per_request": summary(client_ms, 1),
        "model_calls_per_request": round(calls / requests, 3),
    }


def client_cpu(model_port: int, text: str, calls: int = 30) -> dict[str, Any]:
    """CPU ms this process spends per model call through ``LiteLLMClient`` (FactDesk's
    model client) versus a plain ``httpx`` POST of the same body, against a zero-latency
    fake model server in another process: the model-client share of the API's cost."""
    settings = Settings().model_copy(
        update={
            "model": LOCAL_MODEL,
            "api_base": f"http://127.0.0.1:{model_port}/v1",
            "transport_retries": 0,
        }
    )
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    fake = InstantLLM(reply_for_text(text), keep_requests=True)
    client = LiteLLMClient(settings)
    url = f"http://127.0.0.1:{model_port}/v1/chat/completions"

    async def go() -> dict[str, Any]:
        await analyze(AnalysisRequest(text=text), settings, fake, prompt)
        request = fake.requests[0]
        body = json.dumps(
            {
                "model": "local",
                "messages": list(request.messages),
                "temperature": settings.temperature,
                "max_tokens": settings.max_output_tokens,
                "response_format": {"type": "json_object", "schema": request.schema},
            }
        ).encode("utf-8")
        for _ in range(3):
            await client.complete(request)
        t0 = time.process_time()
        for _ in range(calls):
            await client.complete(request)
        litellm_ms = (time.process_time() - t0) * 1000 / calls
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                await http.post(url, content=body, headers={"content-type": "application/json"})
            t0 = time.process_time()
            for _ in range(calls):
                r = await http.post(url, content=body, headers={"content-type": "application/json"})
                r.raise_for_status()
            httpx_ms = (time.process_time() - t0) * 1000 / calls
        return {
            "calls": calls,
            "litellm_client_cpu_ms_per_call": round(litellm_ms, 2),
            "plain_httpx_cpu_ms_per_call": round(httpx_ms, 2),
        }

    return asyncio.run(go())


def run(reps: int = 3, quick: bool = False) -> dict[str, Any]:
    """Start the fake model and the API, measure memory and throughput, stop both."""
    model_port, api_port, zero_port = free_port(), free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="factdesk-bench-"))
    fake = api = zero = None
    failed = False
    seed = seed_text()
    big = article_of_words(5_000)
    short = article_of_words(250)
    bodies = {
        name: [json.dumps({"text": t}).encode("utf-8") for t in variants(text, 64)]
        for name, text in (("seed", seed), ("5000w", big), ("250w", short))
    }
    try:
        fake = start_python(
            ["-m", "benchmarks.fake_model_server", "--port", str(model_port), "--latency", "1.0"],
            log=logs / "fake-model.log",
        )
        wait_http(f"http://127.0.0.1:{model_port}/v1/models", 30, fake)
        zero = start_python(
            ["-m", "benchmarks.fake_model_server", "--port", str(zero_port), "--latency", "0"],
            log=logs / "fake-model-0.log",
        )
        wait_http(f"http://127.0.0.1:{zero_port}/v1/models", 30, zero)
        api = start_python(
            ["-m", "benchmarks.api_server", "--port", str(api_port)],
            env={
                # every request is a new analysis: the result cache would skip the model
                "FACTDESK_RESULT_CACHE": "false",
                "FACTDESK_MODEL": "openai/local",
                "FACTDESK_API_BASE": f"http://127.0.0.1:{model_port}/v1",
                "FACTDESK_TRANSPORT_RETRIES": "0",
                "FACTDESK_LOCAL_SERVER": "never",
                "FACTDESK_TIMEOUT_S": "120",
            },
            log=logs / "api.log",
        )
        base = f"http://127.0.0.1:{api_port}"
        wait_http(base + "/healthz", 60, api)
        time.sleep(1.0)
        url = base + "/v1/analyses"
        pids = {"api": api.pid, "fake_model": fake.pid}
        stats_url = f"http://127.0.0.1:{model_port}/stats"
        memory: dict[str, Any] = {"idle": rss_mb(api.pid)}

        reset_peak_rss(api.pid)
        r = httpx.post(
            url,
            content=bodies["5000w"][0],
            headers={"content-type": "application/json"},
            timeout=60,
        )
        r.raise_for_status()
        memory["one_5000w"] = rss_mb(api.pid)
        memory["peak_reset_supported"] = reset_peak_rss(api.pid)
        meta = r.json()["meta"]

        per_client = {1: 5, 10: 3, 100: 3}
        if quick:
            per_client = {1: 2, 10: 2, 100: 1}
        levels = [
            asyncio.run(
                _level(pids, url, stats_url, bodies["seed"], c, per_client[c], 1 if quick else reps)
            )
            for c in LEVELS
        ]
        by_size = [
            asyncio.run(_level(pids, url, stats_url, bodies[name], 100, 1, 1 if quick else 2))
            | {"article": name}
            for name in ("250w", "5000w")
        ]
        memory["load_100"] = levels[-1]["api_peak_rss_mb"]
        memory["load_100_5000w"] = by_size[1]["api_peak_rss_mb"]
        memory["load_100_after"] = rss_mb(api.pid)
        return {
            "article": f"seed article ({word_count(seed)} words) for every level",
            "model_latency_s": LATENCY_S,
            "transport_retries": 0,
            "levels": levels,
            "efficiency_100_by_article_size": [
                {
                    "article": "250w",
                    "words": 250,
                    "efficiency": by_size[0]["efficiency"],
                    "api_cpu_ms_per_request": by_size[0]["api_cpu_ms_per_request"],
                },
                {
                    "article": "seed",
                    "words": word_count(seed),
                    "efficiency": levels[-1]["efficiency"],
                    "api_cpu_ms_per_request": levels[-1]["api_cpu_ms_per_request"],
                },
                {
                    "article": "5000w",
                    "words": 5_000,
                    "efficiency": by_size[1]["efficiency"],
                    "api_cpu_ms_per_request": by_size[1]["api_cpu_ms_per_request"],
                },
            ],
            "memory_mb": memory,
            "model_client_cpu": client_cpu(zero_port, seed, 10 if quick else 30),
            "one_5000w_meta_attempts": meta["attempts"],
        }
    except BaseException:
        failed = True
        raise
    finally:
        stop(api)
        stop(fake)
        stop(zero)
        drop_logs(logs, failed)


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
