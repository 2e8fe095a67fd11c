"""Backends for the storage and queue tests: the real PostgreSQL and Redis this machine
runs (127.0.0.1:5432 and :6379) and embedded SQLite, never mocks. Each test gets a fresh
PostgreSQL schema (dropped afterwards) or SQLite file, and each test run its own Redis
queue name, so runs and tests do not collide."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.settings import Settings

PG_ADMIN = os.environ.get(
    "FACTDESK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FACTDESK_TEST_REDIS", "redis://127.0.0.1:6379/0")
RUN = secrets.token_hex(4)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(host: str, port: int, what: str) -> None:
    """Fail (not skip) when a server the suite is meant to run against is down: a green
    run must mean the PostgreSQL and Redis paths were exercised."""
    if not _reachable(host, port):
        pytest.fail(f"{what} is not running on {host}:{port} (.ci/run starts it)")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    require("127.0.0.1", 5432, "PostgreSQL")
    schema = f"fdtest_{RUN}_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The real Redis."""
    require("127.0.0.1", 6379, "Redis")
    return REDIS_URL


@pytest.fixture
def queue_name() -> str:
    """A queue of this test alone."""
    return f"fdtest:{RUN}:{secrets.token_hex(4)}"


def backend_settings(settings: Settings, database_url: str, **update: Any) -> Settings:
    """The test settings pointed at one backend."""
    return settings.model_copy(update={"database_url": database_url, **update})


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_worker(env: dict[str, str], log: Path, concurrency: int = 2) -> subprocess.Popen[bytes]:
    """A real ``factdesk worker`` process."""
    full = {**os.environ, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", "--concurrency", str(concurrency)],
        env=full,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def batch_done(client: Any, batch_id: str) -> dict[str, Any] | None:
    """The batch when it has finished, else None."""
    r = client.get(f"/v1/batches/{batch_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body if body["status"] in ("completed", "failed", "cancelled") else None


__all__ = ["backend_settings", "batch_done", "httpx", "start_worker", "wait_for"]
