"""Figure 7: serving with worker processes (``factdesk serve --workers N``).

The API runs as ``factdesk serve --workers N`` (the real command, its worker processes
sharing the socket) against ``benchmarks.fake_model_server``; clients are
``httpx.AsyncClient`` tasks in this process, one connection each, sending the seed
article back to back (a warm-up round, then ``per_client`` requests each, per
repetition).

* ``efficiency_100_5s``: 100 concurrent, model latency 5 s, 2 workers: requests/s ÷
  (100 ÷ 5 s).
* ``worker_scaling_2``: requests/s with 2 workers ÷ with 1 worker, 100 concurrent,
  latency 1 s; the two servers run side by side and are measured alternately, and the
  ratio is taken per adjacent pair.
* ``healthz_p99_ms_load``: ``GET /healthz`` latency (new connection each, every 50 ms,
  from a separate process: :mod:`benchmarks.healthz_probe`) while the 100 analyses of
  ``efficiency_100_5s`` run; p99 over all probes of a repetition.
* ``rss_mb_load``: peak RSS of each worker during those repetitions (the largest
  worker's peak, median over repetitions).
* ``cpu_ms_seed``, ``cpu_ms_5000w``: CPU time of ``service.pipeline.analyze`` per
  article in this process (instant fake model, response JSON included) with every
  learned component the package has.

Run alone: ``python -m benchmarks.serving [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from service import learned
from service.pipeline import analyze
from service.prompts import load_prompt
from service.schemas import AnalysisRequest
from service.settings import Settings

from .common import (
    REPO,
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
)
from .throughput import _load

CONCURRENCY = 100


def _workers_of(proc: subprocess.Popen[bytes], workers: int, timeout_s: float = 60) -> list[int]:
    """The pids of the worker processes of a ``factdesk serve`` (itself when it has one)."""
    if workers == 1:
        return [proc.pid]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True
        ).stdout
        pids = []
        for pid in (int(p) for p in out.split()):
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(pid)
        if len(pids) == workers:
            return pids
        time.sleep(0.2)
    raise RuntimeError(f"factdesk serve did not start {workers} workers")


class Served:
    """One ``factdesk serve --workers N`` against a model server, with its worker pids."""

    def __init__(self, workers: int, model_port: int, logs: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.proc = start_python(
            [
                "-m",
                "service.cli",
                "serve",
                "--workers",
                str(workers),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env={
                # every request is a new analysis: the result cache would skip the model
                "FACTDESK_RESULT_CACHE": "false",
                "FACTDESK_MODEL": "openai/local",
                "FACTDESK_API_BASE": f"http://127.0.0.1:{model_port}/v1",
                "FACTDESK_TRANSPORT_RETRIES": "0",
                "FACTDESK_LOCAL_SERVER": "never",
                "FACTDESK_TIMEOUT_S": "120",
                "FACTDESK_DATA_DIR": str(logs / f"data-{workers}w"),
            },
            log=logs / f"serve-{workers}w.log",
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(self.base + "/healthz", 90, self.proc)
        self.pids = _workers_of(self.proc, workers)

    def stop(self) -> None:
        """Stop the server (its workers stop with it)."""
        stop(self.proc)


async def _round(
    base: str, bodies: list[bytes], per_client: int, on_start: Any = None
) -> tuple[int, int, float]:
    """100 clients: a warm-up request each, then ``per_client`` each, measured."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=180))
            for _ in range(CONCURRENCY)
        ]
        url = base + "/v1/analyses"
        await _load(clients, url, bodies, 1)
        if on_start is not None:
            on_start()
        return await _load(clients, url, bodies, per_client)


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class _CpuMeter:
    """CPU seconds used since :meth:`start` by the workers and by the harness (the fake
    model server and this process, the clients), which share the cores with them."""

    def __init__(self, worker_pids: list[int], model_pid: int) -> None:
        self._pids = worker_pids
        self._model_pid = model_pid
        self._start = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        workers = sum(cpu_seconds(pid) for pid in self._pids)
        return workers, cpu_seconds(self._model_pid) + time.process_time()

    def start(self) -> None:
        """Mark the start of the measured requests."""
        self._start = self._now()

    def ms_per_request(self, requests: int) -> tuple[float, float]:
        """The workers' and the harness's CPU ms per request since :meth:`start`."""
        now = self._now()
        n = max(1, requests)
        return (now[0] - self._start[0]) * 1000 / n, (now[1] - self._start[1]) * 1000 / n


def efficiency_5s(
    model_port: int, model_pid: int, logs: Path, bodies: list[bytes], per_client: int, reps: int
) -> dict[str, Any]:
    """``efficiency_100_5s``, ``healthz_p99_ms_load`` and ``rss_mb_load`` (2 workers)."""
    latency = 5.0
    served = Served(2, model_port, logs)
    try:
        effs: list[float] = []
        p99s: list[float] = []
        peaks: list[float] = []
        cpu_ms: list[float] = []
        harness_ms: list[float] = []
        probes: list[dict[str, Any]] = []
        failed = 0
        for _ in range(reps):
            probe: list[subprocess.Popen[bytes]] = []
            meter = _CpuMeter(served.pids, model_pid)

            def started(meter: _CpuMeter = meter, probe: list[Any] = probe) -> None:
                meter.start()
                for pid in served.pids:
                    reset_peak_rss(pid)
                probe.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "benchmarks.healthz_probe",
                            served.base + "/healthz",
                            "--duration",
                            str(latency * per_client - 1.0),
                        ],
                        cwd=REPO,
                        stdout=subprocess.PIPE,
                    )
                )

            ok, bad, wall = asyncio.run(_round(served.base, bodies, per_client, started))
            failed += bad
            workers_ms, harness = meter.ms_per_request(ok + bad)
            cpu_ms.append(workers_ms)
            harness_ms.append(harness)
            effs.append(ok / wall / (CONCURRENCY / latency))
            peaks.append(max(rss_mb(pid)["peak"] for pid in served.pids))
            out, _ = probe[0].communicate(timeout=120)
            result = json.loads(out)
            probes.append({"n": len(result["ms"]), "failed": result["failed"]})
            if result["ms"]:
                p99s.append(_p99(result["ms"]))
        return {
            "workers": 2,
            "model_latency_s": latency,
            "concurrency": CONCURRENCY,
            "requests_per_client": per_client,
            "reps": reps,
            "efficiency": summary(effs),
            "failed_requests": failed,
            "healthz_p99_ms": summary(p99s, 1),
            "healthz_probes": probes,
            "worker_peak_rss_mb": summary(peaks, 1),
            "workers_cpu_ms_per_request": summary(cpu_ms, 1),
            "harness_cpu_ms_per_request": summary(harness_ms, 1),
        }
    finally:
        served.stop()


def scaling(
    model_port: int, model_pid: int, logs: Path, bodies: list[bytes], per_client: int, reps: int
) -> dict[str, Any]:
    """``worker_scaling_2``: 2 workers ÷ 1 worker, latency 1 s, pairs adjacent in time."""
    one = two = None
    try:
        one = Served(1, model_port, logs)
        two = Served(2, model_port, logs)
        rates: dict[int, list[float]] = {1: [], 2: []}
        cpu_ms: dict[int, list[float]] = {1: [], 2: []}
        harness_ms: dict[int, list[float]] = {1: [], 2: []}
        ratios: list[float] = []
        for rep in range(reps):
            order = (one, two) if rep % 2 == 0 else (two, one)
            pair: dict[int, float] = {}
            for served in order:
                meter = _CpuMeter(served.pids, model_pid)
                ok, bad, wall = asyncio.run(_round(served.base, bodies, per_client, meter.start))
                workers_ms, harness = meter.ms_per_request(ok + bad)
                cpu_ms[served.workers].append(workers_ms)
                harness_ms[served.workers].append(harness)
                pair[served.workers] = ok / wall
                rates[served.workers].append(ok / wall)
            ratios.append(pair[2] / pair[1])
        return {
            "model_latency_s": 1.0,
            "concurrency": CONCURRENCY,
            "requests_per_client": per_client,
            "requests_per_s_1_worker": summary(rates[1]),
            "requests_per_s_2_workers": summary(rates[2]),
            "ratio": summary(ratios),
            "workers_cpu_ms_per_request_1_worker": summary(cpu_ms[1], 1),
            "workers_cpu_ms_per_request_2_workers": summary(cpu_ms[2], 1),
            "harness_cpu_ms_per_request_1_worker": summary(harness_ms[1], 1),
            "harness_cpu_ms_per_request_2_workers": summary(harness_ms[2], 1),
        }
    finally:
        if one is not None:
            one.stop()
        if two is not None:
            two.stop()


def pipeline_cpu(runs: int) -> dict[str, Any]:
    """CPU ms of one analysis (instant fake model, response JSON included) per article."""
    settings = Settings().model_copy(update={"model": "openai/local"})
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    out: dict[str, Any] = {}
    for name, text in (("seed", seed_text()), ("5000w", article_of_words(5_000))):
        llm = InstantLLM(reply_for_text(text))
        requests = [AnalysisRequest(text=t) for t in variants(text, 16)]

        async def go(llm: InstantLLM, requests: list[AnalysisRequest]) -> list[float]:
            for request in requests[:3]:
                await analyze(request, settings, llm, prompt)
            times: list[float] = []
            for i in range(runs):
                t0 = time.process_time()
                result = await analyze(requests[i % len(requests)], settings, llm, prompt)
                result.model_dump_json()
                times.append((time.process_time() - t0) * 1000)
            return times

        out[name] = summary(asyncio.run(go(llm, requests)), 2)
    out["components"] = sorted(learned.loaded())
    return out


def run(quick: bool = False) -> dict[str, Any]:
    """Start the fake models and the servers, measure, stop everything."""
    logs = Path(tempfile.mkdtemp(prefix="factdesk-bench-serving-"))
    bodies = [json.dumps({"text": t}).encode("utf-8") for t in variants(seed_text(), 64)]
    slow = fast = None
    failed = False
    try:
        slow_port, fast_port = free_port(), free_port()
        slow = start_python(
            ["-m", "benchmarks.fake_model_server", "--port", str(slow_port), "--latency", "5.0"],
            log=logs / "fake-model-5s.log",
        )
        fast = start_python(
            ["-m", "benchmarks.fake_model_server", "--port", str(fast_port), "--latency", "1.0"],
            log=logs / "fake-model-1s.log",
        )
        wait_http(f"http://127.0.0.1:{slow_port}/v1/models", 30, slow)
        wait_http(f"http://127.0.0.1:{fast_port}/v1/models", 30, fast)
        cpu = pipeline_cpu(10 if quick else 40)
        eff = efficiency_5s(slow_port, slow.pid, logs, bodies, 1 if quick else 3, 1 if quick else 2)
        scale = scaling(fast_port, fast.pid, logs, bodies, 2 if quick else 3, 2 if quick else 4)
        return {
            "article": "seed",
            "efficiency_100_5s": eff,
            "worker_scaling_2": scale,
            "pipeline_cpu_ms": cpu,
            "cores": os.cpu_count(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    except BaseException:
        failed = True
        raise
    finally:
        stop(slow)
        stop(fast)
        drop_logs(logs, failed)


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
