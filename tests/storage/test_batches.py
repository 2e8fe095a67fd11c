"""Batches: in-process (no Redis) and on arq + Redis with real ``factdesk worker``
processes, on SQLite and PostgreSQL. A worker killed mid-item loses nothing and no item
is stored twice."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from service.app import create_app
from service.settings import Settings
from service.storage.models import Analysis, BatchItem
from tests.fakeserver import FakeModelServer, Reply
from tests.reliability.conftest import CITES_S1, AlwaysLLM
from tests.storage.conftest import backend_settings, batch_done, start_worker, wait_for

PROBLEM = "application/problem+json"
ANSWER = json.dumps(CITES_S1)


def articles(n: int) -> list[dict[str, Any]]:
    return [{"text": f"Officials said {i} people were evacuated on Monday."} for i in range(n)]


class SlowLLM(AlwaysLLM):
    async def complete(self, request):  # type: ignore[no-untyped-def]
        import asyncio

        await asyncio.sleep(0.3)
        return await super().complete(request)


@pytest.fixture
def local_client(settings: Settings, database_url: str) -> Iterator[TestClient]:
    s = backend_settings(settings, database_url, worker_concurrency=2)
    with TestClient(create_app(s, AlwaysLLM(ANSWER)), raise_server_exceptions=False) as c:
        yield c


def test_in_process_batch_runs_every_item_and_records_failures(local_client: TestClient) -> None:
    items = [*articles(3), {"text": "   "}, {"text": "ok", "bogus": 1}]
    r = local_client.post("/v1/batches", json={"items": items})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/batches/{r.json()['id']}"
    done = wait_for(lambda: batch_done(local_client, r.json()["id"]), 30, "the batch")
    assert done["status"] == "completed"
    assert done["counts"] == {
        "total": 5,
        "queued": 0,
        "running": 0,
        "completed": 3,
        "failed": 2,
        "cancelled": 0,
    }
    by_index = {i["index"]: i for i in done["items"]}
    assert by_index[3]["problem"]["type"] == "/problems/empty-text"
    assert by_index[4]["problem"]["type"] == "/problems/invalid-request"
    res = local_client.get(f"/v1/batches/{done['id']}/results")
    assert res.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in res.text.splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2, 3, 4]
    for line in lines[:3]:
        assert line["status"] == "completed"
        assert line["response"]["id"] == line["analysis_id"]
        stored = local_client.get(f"/v1/analyses/{line['analysis_id']}")
        assert stored.json()["sentences"] == line["response"]["sentences"]
    assert lines[3]["response"] is None and lines[3]["status"] == "failed"


def test_batch_idempotency_key(local_client: TestClient) -> None:
    body = {"items": articles(2)}
    h = {"Idempotency-Key": "nightly-2026-12-01"}
    first = local_client.post("/v1/batches", json=body, headers=h)
    again = local_client.post("/v1/batches", json=body, headers=h)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = local_client.post("/v1/batches", json={"items": articles(3)}, headers=h)
    assert other.status_code == 409 and other.json()["type"] == "/problems/idempotency-key-reused"


def test_batch_limits_are_problems(settings: Settings, database_url: str) -> None:
    s = backend_settings(settings, database_url, batch_max_items=3, max_text_chars=100)
    with TestClient(create_app(s, AlwaysLLM(ANSWER)), raise_server_exceptions=False) as c:
        r = c.post("/v1/batches", json={"items": articles(4)})
        assert r.status_code == 413 and r.json()["type"] == "/problems/batch-too-large"
        assert r.headers["content-type"].startswith(PROBLEM)
        r = c.post("/v1/batches", json={"items": []})
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
        r = c.post("/v1/batches", json={"items": "nope"})
        assert r.status_code == 422
        r = c.post("/v1/batches", json={"items": [{"text": "x" * 101}]})
        assert r.status_code == 202
        done = wait_for(lambda: batch_done(c, r.json()["id"]), 30, "the batch")
        assert done["status"] == "failed"
        assert done["items"][0]["problem"]["type"] == "/problems/text-too-long"
        assert c.get("/v1/batches/bt_nothing").status_code == 404


def test_cancel_stops_items_not_started(settings: Settings, database_url: str) -> None:
    s = backend_settings(settings, database_url, worker_concurrency=1)
    with TestClient(create_app(s, SlowLLM(ANSWER)), raise_server_exceptions=False) as c:
        bid = c.post("/v1/batches", json={"items": articles(8)}).json()["id"]
        wait_for(
            lambda: c.get(f"/v1/batches/{bid}").json()["counts"]["running"], 10, "a running item"
        )
        r = c.post(f"/v1/batches/{bid}/cancel", json={})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        done = wait_for(
            lambda: (lambda b: b if b["counts"]["running"] == 0 else None)(
                c.get(f"/v1/batches/{bid}").json()
            ),
            10,
            "the running item to end",
        )
        assert done["status"] == "cancelled"
        assert done["counts"]["cancelled"] >= 6
        time.sleep(0.7)
        assert c.get(f"/v1/batches/{bid}").json()["counts"] == done["counts"]


def test_in_process_queue_resumes_unfinished_items_after_restart(
    settings: Settings, database_url: str
) -> None:
    s = backend_settings(settings, database_url, worker_concurrency=1)
    with TestClient(create_app(s, SlowLLM(ANSWER)), raise_server_exceptions=False) as c:
        bid = c.post("/v1/batches", json={"items": articles(6)}).json()["id"]
        wait_for(lambda: c.get(f"/v1/batches/{bid}").json()["counts"]["completed"], 10, "one")
    # the app stopped mid-batch; a new one picks up the rest
    with TestClient(create_app(s, AlwaysLLM(ANSWER)), raise_server_exceptions=False) as c:
        done = wait_for(lambda: batch_done(c, bid), 30, "the resumed batch")
        assert done["counts"]["completed"] == 6


def _worker_env(
    database_url: str, redis_url: str, queue_name: str, fake: FakeModelServer, data: Path
) -> dict[str, str]:
    return {
        "FACTDESK_DATABASE_URL": database_url,
        "FACTDESK_REDIS_URL": redis_url,
        "FACTDESK_QUEUE_NAME": queue_name,
        "FACTDESK_MODEL": "openai/local",
        "FACTDESK_API_BASE": fake.base_url,
        "FACTDESK_LOCAL_SERVER": "never",
        "FACTDESK_DATA_DIR": str(data),
        # a killed worker's item is retried 8 + 20 s after it started
        "FACTDESK_JOB_TIMEOUT_S": "8",
        "FACTDESK_TIMEOUT_S": "6",
        "DISABLE_AIOHTTP_TRANSPORT": "True",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def test_worker_killed_mid_batch_loses_nothing_and_stores_each_item_once(
    settings: Settings,
    database_url: str,
    redis_url: str,
    queue_name: str,
    fake_server: FakeModelServer,
    tmp_path: Path,
) -> None:
    # Every model call takes 0.6 s, so the first worker is surely mid-item when killed.
    fake_server.always(Reply(content=ANSWER, delay_s=0.6))
    env = _worker_env(database_url, redis_url, queue_name, fake_server, tmp_path)
    s = backend_settings(settings, database_url, redis_url=redis_url, queue_name=queue_name)
    n = 12
    log = tmp_path / "workers.log"
    doomed = start_worker(env, log, concurrency=3)
    survivor = None
    try:
        with TestClient(create_app(s), raise_server_exceptions=False) as c:
            bid = c.post("/v1/batches", json={"items": articles(n)}).json()["id"]
            wait_for(
                lambda: c.get(f"/v1/batches/{bid}").json()["counts"]["running"] >= 2,
                60,
                "the first worker to be running items",
            )
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait(10)
            killed_mid = c.get(f"/v1/batches/{bid}").json()["counts"]["running"]
            assert killed_mid >= 1
            survivor = start_worker(env, log, concurrency=3)
            done = wait_for(lambda: batch_done(c, bid), 180, "the batch after the kill")
            assert done["status"] == "completed", done["counts"]
            assert done["counts"]["completed"] == n, [i["problem"] for i in done["items"]]
            assert max(i["attempts"] for i in done["items"]) >= 2  # retried elsewhere
            results = [
                json.loads(x) for x in c.get(f"/v1/batches/{bid}/results").text.split("\n") if x
            ]
            assert sorted(r["index"] for r in results) == list(range(n))
    finally:
        for proc in (doomed, survivor):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        items = conn.execute(
            select(BatchItem.id, BatchItem.analysis_id).where(BatchItem.batch_id == bid)
        ).all()
        per_item = dict(
            conn.execute(
                select(Analysis.batch_item_id, func.count())
                .group_by(Analysis.batch_item_id)
                .where(Analysis.batch_item_id.is_not(None))
            ).all()
        )
    engine.dispose()
    assert len(items) == n
    assert all(per_item.get(item_id) == 1 for item_id, _ in items), per_item
    assert all(analysis_id for _, analysis_id in items)


def test_two_workers_share_one_queue(
    settings: Settings,
    database_url: str,
    redis_url: str,
    queue_name: str,
    fake_server: FakeModelServer,
    tmp_path: Path,
) -> None:
    fake_server.always(Reply(content=ANSWER, delay_s=0.2))
    env = _worker_env(database_url, redis_url, queue_name, fake_server, tmp_path)
    s = backend_settings(settings, database_url, redis_url=redis_url, queue_name=queue_name)
    log = tmp_path / "workers.log"
    workers = [start_worker(env, log, concurrency=2) for _ in range(2)]
    try:
        with TestClient(create_app(s), raise_server_exceptions=False) as c:
            bid = c.post("/v1/batches", json={"items": articles(10)}).json()["id"]
            done = wait_for(lambda: batch_done(c, bid), 120, "the batch")
            assert done["counts"]["completed"] == 10
    finally:
        for proc in workers:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        who = {
            w for (w,) in conn.execute(select(BatchItem.worker).where(BatchItem.batch_id == bid))
        }
    engine.dispose()
    assert len(who) == 2, who  # both processes took items


def test_jsonl_upload(local_client: TestClient) -> None:
    lines = "\n".join(json.dumps(a) for a in articles(3)) + "\n\n"
    r = local_client.post(
        "/v1/batches", content=lines.encode(), headers={"Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 202, r.text
    done = wait_for(lambda: batch_done(local_client, r.json()["id"]), 30, "the batch")
    assert done["counts"]["completed"] == 3
    bad = local_client.post(
        "/v1/batches",
        content=b'{"text": "a"}\n{"text": \n',
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert bad.status_code == 400 and bad.json()["type"] == "/problems/invalid-json"
    assert "line 2" in bad.json()["detail"]


def test_cli_batch_submit_wait_status_results(settings: Settings, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.reliability.conftest import LiveServer

    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text("\n".join(json.dumps(a) for a in articles(4)) + "\n", encoding="utf-8")
    app = create_app(settings, AlwaysLLM(ANSWER))
    with LiveServer(app) as server:
        env = {**os.environ, "FACTDESK_API_URL": server.url}
        run = [sys.executable, "-m", "service.cli", "batch"]
        sub = subprocess.run(
            [*run, "submit", str(jsonl), "--wait", "--poll", "0.1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sub.returncode == 0, sub.stderr
        bid = sub.stdout.strip()
        assert bid.startswith("bt_")
        assert "4/4" in sub.stderr and "[" in sub.stderr  # the progress bar
        status = subprocess.run(
            [*run, "status", bid], env=env, capture_output=True, text=True, timeout=60
        )
        assert json.loads(status.stdout)["status"] == "completed"
        res = subprocess.run(
            [*run, "results", bid], env=env, capture_output=True, text=True, timeout=60
        )
        lines = [json.loads(x) for x in res.stdout.splitlines()]
        assert [x["status"] for x in lines] == ["completed"] * 4
        missing = subprocess.run(
            [*run, "status", "bt_nope"], env=env, capture_output=True, text=True, timeout=60
        )
        assert missing.returncode == 2 and "404" in missing.stderr
