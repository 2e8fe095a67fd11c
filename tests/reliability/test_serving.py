"""Serving faults seen from a client: a body over the limit sent in one go, a client
that gives up while the model is still generating, worker processes that share the
rate limit and die with their parent."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from service.buckets import MemoryLimiter, RedisLimiter, SQLiteLimiter, rate_limiter
from service.settings import Settings
from tests.conftest import REPO, seed_llm_output
from tests.fakeserver import FakeModelServer, Reply, _free_port
from tests.reliability.conftest import CITES_S1, PROBLEM, AlwaysLLM, LiveServer

MB = 1024 * 1024
ARTICLE = {"text": "The mayor said 40 people fled the town on Friday."}


@pytest.fixture
def small_limit(settings: Settings) -> Iterator[LiveServer]:
    s = settings.model_copy(update={"max_body_bytes": 200_000})
    with LiveServer(create_app(s, AlwaysLLM(json.dumps(CITES_S1)))) as live:
        yield live


# ----------------------------------------------------------------------------- body over limit


def test_urllib_sending_10mb_in_one_go_reads_the_413(small_limit: LiveServer) -> None:
    """urllib writes the whole body before it reads: it must get the problem, not a
    reset connection."""
    body = b'{"text": "' + b"a" * (10 * MB) + b'"}'
    request = urllib.request.Request(
        small_limit.url + "/v1/analyses",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 413
    assert info.value.headers["content-type"].startswith(PROBLEM)
    assert json.loads(info.value.read())["type"] == "/problems/body-too-large"


def test_raw_client_writing_everything_first_reads_the_413(small_limit: LiveServer) -> None:
    """The same with a plain socket: 3 MB written in full, then the answer read; the
    server closes cleanly afterwards (connection: close)."""
    payload = b'{"text": "' + b"b" * (3 * MB) + b'"}'
    head = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
    )
    sock = small_limit.raw()
    sock.sendall(head + payload)
    sock.settimeout(15)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    status, _, rest = data.partition(b"\r\n")
    assert b" 413 " in status, data[:200]
    headers, _, content = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert json.loads(content)["type"] == "/problems/body-too-large"


def test_a_declared_length_past_the_drain_bound_is_refused_at_once(
    small_limit: LiveServer,
) -> None:
    sock = small_limit.raw()
    sock.sendall(
        b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 999999999\r\n\r\n"
    )
    sock.settimeout(5)
    t0 = time.monotonic()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert b" 413 " in data.split(b"\r\n", 1)[0]
    assert time.monotonic() - t0 < 3, "closed without waiting for a body it will not read"


# ----------------------------------------------------------------------------- client gives up


def _wait(predicate: object, timeout_s: float) -> float | None:
    """Seconds until ``predicate()`` held, or ``None`` if it did not within the bound."""
    assert callable(predicate)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if predicate():
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


@pytest.mark.parametrize("how", ["close", "timeout"])
def test_a_client_that_gives_up_stops_the_model_call(
    settings: Settings, fake_server: FakeModelServer, seed_text: str, how: str
) -> None:
    """The model would answer after 30 s; the client leaves after the call started. The
    API must close its connection to the model server (which is how llama.cpp's server
    learns to stop generating) within 3 s."""
    fake_server.always(Reply(content=json.dumps(seed_llm_output(seed_text)), delay_s=30))
    s = settings.model_copy(
        update={"api_base": fake_server.base_url, "timeout_s": 60.0, "transport_retries": 0}
    )
    with LiveServer(create_app(s)) as server:
        if how == "close":
            body = json.dumps({"text": seed_text}).encode()
            sock = server.raw()
            sock.sendall(
                b"POST /v1/analyses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            assert _wait(lambda: fake_server.in_flight == 1, 20) is not None
            sock.close()
        else:
            outcome: list[BaseException] = []

            def give_up() -> None:
                try:
                    httpx.post(
                        server.url + "/v1/analyses",
                        json={"text": seed_text},
                        timeout=httpx.Timeout(20, read=3.0),
                    )
                except httpx.ReadTimeout as exc:
                    outcome.append(exc)

            client = threading.Thread(target=give_up, daemon=True)
            client.start()
            assert _wait(lambda: fake_server.in_flight == 1, 20) is not None
            client.join(timeout=10)
            assert outcome, "the client timed out"
        assert fake_server.open_connections >= 1 or fake_server.in_flight == 1
        closed_after = _wait(lambda: fake_server.open_connections == 0, 3.0)
        assert closed_after is not None, "the model call went on after the client left"
    assert len(fake_server.requests) == 1, "cancelled, not retried"


def test_a_client_that_stays_gets_its_analysis(
    settings: Settings, fake_server: FakeModelServer, seed_text: str
) -> None:
    fake_server.always(Reply(content=json.dumps(seed_llm_output(seed_text)), delay_s=0.5))
    s = settings.model_copy(update={"api_base": fake_server.base_url, "transport_retries": 0})
    with LiveServer(create_app(s)) as server:
        r = httpx.post(server.url + "/v1/analyses", json={"text": seed_text}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["claims"]


# ----------------------------------------------------------------------------- shared limits


def test_sqlite_buckets_are_shared_between_processes_opening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ratelimit.sqlite3"
    a, b = SQLiteLimiter(path, 5), SQLiteLimiter(path, 5)
    now = 1_000_000.0
    outcomes = [(a if i % 2 else b).take_sync("key:k", now) for i in range(8)]
    assert outcomes[:5] == [None] * 5
    assert outcomes[5:] == [12.0] * 3, "one token per 12 s at 5 a minute"
    assert a.take_sync("key:other", now) is None, "per client"
    assert b.take_sync("key:k", now + 12) is None, "refilled"


def test_the_store_follows_the_configuration(settings: Settings, tmp_path: Path) -> None:
    s = settings.model_copy(update={"rate_limit_per_minute": 10, "data_dir": tmp_path})
    assert rate_limiter(settings) is None
    assert isinstance(rate_limiter(s), MemoryLimiter)
    assert isinstance(rate_limiter(s.model_copy(update={"workers": 2})), SQLiteLimiter)
    redis = s.model_copy(update={"workers": 2, "redis_url": "redis://127.0.0.1:1/0"})
    assert isinstance(rate_limiter(redis), RedisLimiter)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_redis_buckets_are_shared_and_refused_with_a_wait(redis_url: str) -> None:
    a, b = RedisLimiter(redis_url, 3), RedisLimiter(redis_url, 3)
    outcomes = [await (a if i % 2 else b).take("key:r") for i in range(5)]
    assert outcomes[:3] == [None] * 3
    assert outcomes[3] is not None and 1 <= outcomes[3] <= 20
    assert await a.take("key:someone-else") is None


async def test_an_unreachable_redis_lets_requests_through() -> None:
    limiter = RedisLimiter(f"redis://127.0.0.1:{_free_port()}/0", 1)
    assert [await limiter.take("key:x") for _ in range(3)] == [None] * 3


# ----------------------------------------------------------------------------- workers


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def _is_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_serve_with_two_workers_shares_limits_and_dies_with_its_parent(
    fake_server: FakeModelServer, seed_text: str, tmp_path: Path
) -> None:
    fake_server.always(Reply(content=json.dumps(seed_llm_output(seed_text)), delay_s=0.2))
    parent, port, workers = _serve_two_workers(
        tmp_path,
        FACTDESK_API_BASE=fake_server.base_url,
        FACTDESK_TRANSPORT_RETRIES="0",
        FACTDESK_RATE_LIMIT_PER_MINUTE="4",
    )
    try:
        base = f"http://127.0.0.1:{port}"

        async def burst() -> list[int]:
            # a new connection per request, so the kernel spreads them over the workers
            async def one() -> int:
                async with httpx.AsyncClient(timeout=30) as c:
                    r = await c.post(base + "/v1/analyses", json={"text": seed_text})
                    return r.status_code

            return list(await asyncio.gather(*(one() for _ in range(8))))

        codes = asyncio.run(burst())
        assert sorted(codes) == [200] * 4 + [429] * 4, codes
        assert (tmp_path / "ratelimit.sqlite3").is_file()
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        gone = _wait(lambda: not any(_alive(p) for p in workers), 10)
        assert gone is not None, "worker processes outlived their parent"
    finally:
        _stop(parent, workers)


def test_serve_starts_the_local_model_once_for_all_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent starts the model server; the workers get the count and the model
    through the environment and start nothing themselves."""
    from service import cli, serving

    monkeypatch.setenv("FACTDESK_WORKERS", "1")
    monkeypatch.setenv("FACTDESK_MODEL", "openai/local")
    starts: list[str] = []
    served: list[tuple[int, object]] = []
    monkeypatch.setattr(cli, "_maybe_start_local", lambda s, stack, log: starts.append(s.model))
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # keep pytest's handlers
    monkeypatch.setattr(
        serving, "serve", lambda host, port, workers, level, app: served.append((workers, app))
    )
    assert cli.main(["serve", "--workers", "3", "--port", str(_free_port())]) == 0
    assert starts == ["openai/local"]
    assert served == [(3, None)], "several workers: each builds its own app"
    assert os.environ["FACTDESK_WORKERS"] == "3"
    assert cli.main(["serve", "--workers", "1", "--port", str(_free_port())]) == 0
    assert len(starts) == 2 and served[-1][0] == 1 and served[-1][1] is not None


def _serve_two_workers(
    tmp_path: Path, **extra_env: str
) -> tuple[subprocess.Popen[bytes], int, list[int]]:
    """``factdesk serve --workers 2`` on a free port, once both workers serve."""
    port = _free_port()
    env = {
        **os.environ,
        "FACTDESK_MODEL": "openai/local",
        "FACTDESK_API_BASE": "http://127.0.0.1:9/v1",
        "FACTDESK_LOCAL_SERVER": "never",
        "FACTDESK_DATA_DIR": str(tmp_path),
        **extra_env,
    }
    parent = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        assert _wait(lambda: len([p for p in _children(parent.pid) if _is_worker(p)]) == 2, 60)
        workers = [p for p in _children(parent.pid) if _is_worker(p)]

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert _wait(up, 60) is not None, "the workers did not start serving"
        if shutil.which("ss"):  # both listening: each worker's socket is in the port's group
            assert _wait(lambda: _listeners(port) == set(workers), 30) is not None
    except BaseException:
        _stop(parent, workers or _children(parent.pid))
        raise
    return parent, port, workers


def _listeners(port: int) -> set[int]:
    out = subprocess.run(
        ["ss", "-ltnpH", f"( sport = :{port} )"], capture_output=True, text=True, check=False
    ).stdout
    return {int(p) for p in re.findall(r"pid=(\d+)", out)}


def _stop(parent: subprocess.Popen[bytes], workers: list[int]) -> None:
    if parent.poll() is None:
        parent.kill()
        parent.wait(timeout=10)
    for pid in workers:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs iproute2's ss")
def test_keep_alive_clients_are_spread_over_the_workers(tmp_path: Path) -> None:
    parent, port, workers = _serve_two_workers(tmp_path)
    try:

        async def connect_all() -> list[int]:
            clients = [httpx.AsyncClient(timeout=10) for _ in range(100)]
            try:
                await asyncio.gather(*(c.get(f"http://127.0.0.1:{port}/healthz") for c in clients))
                out = subprocess.run(
                    ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
                per = [out.count(f"pid={pid},") for pid in workers]
                return per
            finally:
                for c in clients:
                    await c.aclose()

        per_worker = asyncio.run(connect_all())
        assert sum(per_worker) == 100, per_worker
        # a hash spread: fewer than 25 of 100 on one worker has odds below one in a million
        assert min(per_worker) >= 25, per_worker
    finally:
        _stop(parent, workers)


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_all(tmp_path: Path) -> None:
    parent, port, workers = _serve_two_workers(tmp_path)
    new: list[int] = []
    try:
        os.kill(workers[0], signal.SIGKILL)
        replaced = _wait(
            lambda: len(set(p for p in _children(parent.pid) if _is_worker(p)) - set(workers)) == 1,
            60,
        )
        assert replaced is not None, "the dead worker was not replaced"
        new = [p for p in _children(parent.pid) if _is_worker(p) and p not in workers]
        assert _wait(lambda: _listeners(port) == {workers[1], new[0]}, 60) is not None
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == 0
        assert _wait(lambda: not any(_alive(p) for p in [workers[1], *new]), 20) is not None
    finally:
        _stop(parent, workers + new)


def _get_on(sock: socket.socket) -> bytes:
    """One ``GET /healthz`` on an open connection: the whole response, or what came
    before the server closed the connection (b"" when it had closed it already)."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if sep and length and len(body) >= int(length.group(1)):
            return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_an_idle_keep_alive_connection_outlives_client_pools(tmp_path: Path) -> None:
    """A connection idle longer than uvicorn's default 5 s still serves: client pools
    (httpx's 5 s) close theirs first, instead of racing the server's close with a
    request that then gets no response."""
    parent, port, workers = _serve_two_workers(tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert _get_on(sock).startswith(b"HTTP/1.1 200")
            time.sleep(6.5)
            assert _get_on(sock).startswith(b"HTTP/1.1 200")
    finally:
        _stop(parent, workers)


def test_one_worker_serves_with_the_configured_keep_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    from service import serving

    seen: dict[str, object] = {}
    monkeypatch.setenv("FACTDESK_KEEP_ALIVE_S", "90")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    serving.serve("127.0.0.1", _free_port(), 1, "warning", app=object())
    assert seen["timeout_keep_alive"] == 90
