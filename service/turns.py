"""First come, first served: analyses on one event loop take turns from their start to
their first model call.

Without turns, each step of an analysis (starting its model calls, the model client's
hop to a thread, joining the calls) waits in the loop's queue behind the preparation of
every request that arrived meanwhile: under a burst, all prepare before any sends its
request, their model calls start and come back together, and the process alternates
between a burst of CPU work and idle waiting instead of overlapping the two. With turns,
each request goes out as soon as its text is prepared, while the next one prepares.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .llm import LLM, Completion, CompletionRequest

P = TypeVar("P")
R = TypeVar("R")

_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    """This event loop's turn."""
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


class _Sending:
    """``llm``, with ``started`` set as soon as a call to it starts."""

    def __init__(self, llm: LLM, started: asyncio.Event) -> None:
        self._llm = llm
        self._started = started

    async def complete(self, request: CompletionRequest) -> Completion:
        """Flag the start, then the wrapped model's completion."""
        self._started.set()
        return await self._llm.complete(request)

    async def ready(self, model: str) -> tuple[bool, str]:
        """The wrapped model's readiness."""
        return await self._llm.ready(model)


async def _until(event: asyncio.Event, task: asyncio.Future[Any]) -> None:
    """Wait until ``event`` is set or ``task`` is done; ``task`` is cancelled with the
    waiter."""
    flag = asyncio.ensure_future(event.wait())
    waiting: set[asyncio.Future[Any]] = {task, flag}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        flag.cancel()


async def prepare_then_ask(
    prepare: Callable[[], Awaitable[P]],
    ask: Callable[[P, LLM], Awaitable[R]],
    llm: LLM,
) -> tuple[P, R]:
    """``prepare()``, then ``ask(prepared, llm)``, in this loop's turn: the next analysis
    starts once this one's first model call has (or ``ask`` has ended). Returns what
    both gave; cancelling the caller cancels ``ask``."""
    started = asyncio.Event()
    lock = _lock()
    await lock.acquire()
    try:
        prepared = await prepare()
        asking = asyncio.ensure_future(ask(prepared, _Sending(llm, started)))
        await _until(started, asking)
    finally:
        lock.release()
    try:
        return prepared, await asking
    except asyncio.CancelledError:
        asking.cancel()
        raise
