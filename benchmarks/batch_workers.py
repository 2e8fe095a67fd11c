"""Batch wall time with 1 and 2 ``factdesk worker`` processes.

A 200-item batch of PolNeAR dev articles (cycled over the split, each item with its own
title so no two items, nor two runs, share a cache key: every item is really analysed)
is submitted to the API (``benchmarks.api_server``)
with the queue on Redis and the store on PostgreSQL; the model is the fixed-latency fake
(``benchmarks.fake_model_server``). For each worker count the workers are started and
warmed up with a 2-item batch, then the timed batch runs from submission to
``completed``. Results go to ``benchmarks/results/batch_workers.json``.

Run: ``python -m benchmarks.batch_workers [--items 200] [--latency 0.25]`` (needs the
PostgreSQL and Redis of this machine; ``--database-url sqlite:///...`` also works).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from .common import REPO, RESULTS_DIR, free_port, machine, start_python, stop, wait_http

POLNEAR_DEV = REPO.parent / "shared/data/polnear/dev/text"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _items(n: int, run: str) -> list[dict[str, Any]]:
    files = sorted(POLNEAR_DEV.glob("*.txt"))
    if not files:
        raise SystemExit(f"no PolNeAR dev texts in {POLNEAR_DEV}")
    out = []
    for k in range(n):
        f = files[k % len(files)]
        # the run tag keeps the result cache from answering a later run's items
        out.append({"text": f.read_text(encoding="utf-8"), "title": f"{f.stem} #{k} {run}"})
    return out


def _run_batch(api: str, items: list[dict[str, Any]], timeout_s: float) -> dict[str, Any]:
    with httpx.Client(base_url=api, timeout=60, trust_env=False) as c:
        t0 = time.perf_counter()
        r = c.post("/v1/batches", json={"items": items})
        r.raise_for_status()
        bid = r.json()["id"]
        while True:
            view = c.get(f"/v1/batches/{bid}", params={"items": "false"}).json()
            if view["status"] in ("completed", "failed", "cancelled"):
                break
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError(f"batch {bid} not done after {timeout_s:.0f}s: {view}")
            time.sleep(0.1)
        wall = time.perf_counter() - t0
    return {
        "batch": bid,
        "wall_s": round(wall, 2),
        "status": view["status"],
        "counts": view["counts"],
    }


def main() -> int:
    """Run the measurement and print a table; exit 1 when a batch did not complete."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.25, help="fake model seconds/call")
    parser.add_argument("--concurrency", type=int, default=4, help="items at once per worker")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--database-url", help="default: a fresh schema in local PostgreSQL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    run = secrets.token_hex(4)
    schema = None
    db_url = args.database_url
    admin = None
    if db_url is None:
        schema = f"fdbench_{run}"
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        db_url = f"{PG}?options=-csearch_path%3D{schema}"
    logs = Path(tempfile.mkdtemp(prefix="fd-bench-batch-"))
    model_port, api_port = free_port(), free_port()
    env = {
        "FACTDESK_DATABASE_URL": db_url,
        "FACTDESK_REDIS_URL": args.redis_url,
        "FACTDESK_QUEUE_NAME": f"fdbench:{run}",
        # every request is a new analysis: the result cache would skip the model
        "FACTDESK_RESULT_CACHE": "false",
        "FACTDESK_MODEL": "openai/local",
        "FACTDESK_API_BASE": f"http://127.0.0.1:{model_port}/v1",
        "FACTDESK_LOCAL_SERVER": "never",
        # the fake model answers the one-call reply shape of analyze.v1
        "FACTDESK_PROMPT_VERSION": "v1",
        "FACTDESK_BATCH_MAX_ITEMS": str(max(1000, args.items)),
        "FACTDESK_MAX_BODY_BYTES": "50000000",
        "DISABLE_AIOHTTP_TRANSPORT": "True",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    procs = []
    results: list[dict[str, Any]] = []
    try:
        model = start_python(
            [
                "-m",
                "benchmarks.fake_model_server",
                "--port",
                str(model_port),
                "--latency",
                str(args.latency),
            ],
            env,
            logs / "model.log",
        )
        procs.append(model)
        wait_http(f"http://127.0.0.1:{model_port}/v1/models", 30, model)
        apiproc = start_python(
            ["-m", "benchmarks.api_server", "--port", str(api_port)], env, logs / "api.log"
        )
        procs.append(apiproc)
        api = f"http://127.0.0.1:{api_port}"
        wait_http(f"{api}/healthz", 60, apiproc)
        for run_no, n in enumerate(int(x) for x in args.workers.split(",")):
            items = _items(args.items, f"run {run_no}")
            workers = [
                start_python(
                    ["-m", "service.cli", "worker", "--concurrency", str(args.concurrency)],
                    env,
                    logs / f"worker-{n}-{i}.log",
                )
                for i in range(n)
            ]
            try:
                warm = [
                    {"text": "Officials said the road reopened.", "title": f"warm {run_no} {i}"}
                    for i in range(2 * n)
                ]
                _run_batch(api, warm, 120)
                row = _run_batch(api, items, 1800)
                row.update(
                    workers=n,
                    items=args.items,
                    per_item_ms=round(1000 * row["wall_s"] / args.items, 1),
                )
                results.append(row)
                print(
                    f"{n} worker(s): {row['wall_s']:.1f} s for {args.items} items "
                    f"({row['status']}, {row['counts']})",
                    file=sys.stderr,
                )
            finally:
                for w in workers:
                    stop(w)
    finally:
        for p in reversed(procs):
            stop(p)
        if admin is not None and schema is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    base = next((r["wall_s"] for r in results if r["workers"] == 1), None)
    for r in results:
        r["speedup_vs_1"] = round(base / r["wall_s"], 2) if base else None
    out = {
        "benchmark": "batch_workers",
        "model_latency_s": args.latency,
        "concurrency_per_worker": args.concurrency,
        "database": "postgresql" if schema else db_url.split(":")[0],
        "queue": "arq on redis",
        "results": results,
        "machine": machine(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "batch_workers.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| workers | items | wall (s) | ms/item | speed-up |\n|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['workers']} | {r['items']} | {r['wall_s']} | {r['per_item_ms']} | "
            f"{r['speedup_vs_1']} |"
        )
    return 0 if all(r["status"] == "completed" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
