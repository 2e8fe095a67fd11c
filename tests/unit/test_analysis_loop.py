"""The analysis loop: work runs on its own thread, sees the request's context, passes
errors back, and is cancelled when its caller is."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest

from service.serving import AnalysisLoop, ClientDisconnected, unless_disconnected

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


@pytest.fixture
def analysis_loop() -> Iterator[AnalysisLoop]:
    loop = AnalysisLoop().start()
    yield loop
    loop.stop()
    assert not loop.running


async def test_work_runs_on_another_thread_with_the_callers_context(
    analysis_loop: AnalysisLoop,
) -> None:
    marker.set("request-7")

    async def where() -> tuple[int, str]:
        return threading.get_ident(), marker.get()

    thread, seen = await analysis_loop.run(where())
    assert thread != threading.get_ident()
    assert seen == "request-7"


async def test_errors_come_back_to_the_caller(analysis_loop: AnalysisLoop) -> None:
    async def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await analysis_loop.run(fail())


async def test_cancelling_the_caller_cancels_the_work(analysis_loop: AnalysisLoop) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def long() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = asyncio.ensure_future(analysis_loop.run(long()))
    assert await asyncio.to_thread(started.wait, 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(cancelled.wait, 5), "the work went on"


async def test_a_disconnect_cancels_the_work_and_says_so() -> None:
    gone = asyncio.Event()
    cancelled = asyncio.Event()

    async def receive() -> dict[str, object]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def work() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    waiting = asyncio.ensure_future(unless_disconnected(receive, work()))
    await asyncio.sleep(0.05)
    gone.set()
    with pytest.raises(ClientDisconnected):
        await waiting
    assert cancelled.is_set()


async def test_without_a_disconnect_the_result_is_returned() -> None:
    async def receive() -> dict[str, object]:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}

    async def work() -> str:
        return "done"

    assert await unless_disconnected(receive, work()) == "done"
