"""How the API is served: worker processes, the analysis loop, and clients that leave.

* ``factdesk serve --workers N`` runs N worker processes (default: one per core), each a
  full copy of the app listening on the port with a socket of its own (SO_REUSEPORT, so
  the kernel spreads connections evenly over the workers). The parent starts the
  local model server once, before the workers, and every worker dies with the parent.
* Inside a worker, analyses run on a second event loop on its own thread
  (:class:`AnalysisLoop`): preparing the text, the analyzers, the model client's request
  building, verification and the JSON of the response. The loop that serves HTTP only
  parses requests and moves bytes, so ``/healthz`` and new connections are answered
  while analyses compute. The two threads share the interpreter lock; the scaling over
  cores comes from the worker processes, the thread keeps one worker's HTTP responsive.
* On that loop, analyses take turns from their start to their first model call, first
  come first served (``service.turns``): under a burst, each model request goes out
  as soon as its text is prepared, overlapping the preparation of the requests behind
  it, instead of all of them going out (and coming back) together after the last one.
* A client that disconnects while its analysis runs (:func:`unless_disconnected`) has
  the analysis cancelled, which closes its connection to the model server: llama.cpp's
  server stops generating for a connection that closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

log = logging.getLogger("factdesk.serving")

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, which container CPU sets
    restrict, where the platform has it; else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where installed (as uvicorn uses for HTTP), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class AnalysisLoop:
    """An event loop on a dedicated thread that runs analyses for the HTTP loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._loop is not None and self._loop.is_running()

    def start(self) -> AnalysisLoop:
        """Start the thread and its loop; returns once the loop accepts work."""
        ready = threading.Event()

        def run() -> None:
            loop = _new_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="factdesk-analysis", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the analysis loop did not start")
        return self

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the analysis loop and return its result (or raise its error).
        Cancelling the caller cancels ``work`` on the analysis loop."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return await work
        future = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        """Cancel what is still running on the loop, then stop the thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=timeout_s)
        self._loop = self._thread = None


class ClientDisconnected(Exception):
    """The client closed the connection before its response was ready."""


async def _until_disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(receive: Receive, work: Awaitable[T]) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled
    (and with it any model call it is waiting for) and :class:`ClientDisconnected` is
    raised. ``receive`` must be past the request body."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_until_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientDisconnected


# ----------------------------------------------------------------------------- workers


def tune_for_serving() -> None:
    """Process settings for a serving worker: a short interpreter switch interval, so
    the HTTP loop gets the lock back within about a millisecond while an analysis
    computes on the other thread (the default 5 ms adds up over the several hand-overs
    one request needs)."""
    sys.setswitchinterval(0.001)


def worker_app() -> Any:
    """The app of one worker process started by ``factdesk serve --workers N`` (an
    import-string factory for uvicorn): dies with the parent, configured from the
    ``FACTDESK_*`` environment the parent passed down."""
    from .app import create_app
    from .localmodel import die_with_parent
    from .settings import Settings

    die_with_parent()
    if os.getppid() == 1:  # the parent died before the request took effect
        raise SystemExit(0)
    tune_for_serving()
    return create_app(Settings())


def serve(host: str, port: int, workers: int, log_level: str, app: Any | None = None) -> None:
    """Serve until terminated: ``app`` in this process when ``workers`` is 1, else
    ``workers`` processes, each listening on the port (each builds its app from the
    environment, see :func:`worker_app`)."""
    import uvicorn

    if workers <= 1:
        from .app import create_app
        from .settings import Settings

        tune_for_serving()
        uvicorn.run(
            app or create_app(Settings()),
            host=host,
            port=port,
            log_level=log_level,
            timeout_keep_alive=_keep_alive_s(),
        )
        return
    os.environ["FACTDESK_WORKERS"] = str(workers)
    if not hasattr(socket, "SO_REUSEPORT") or not sys.platform.startswith("linux"):
        # one shared socket: whichever worker wakes first accepts a connection
        uvicorn.run(
            "service.serving:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            timeout_keep_alive=_keep_alive_s(),
        )
        return
    _supervise(host, port, workers, log_level)


def _keep_alive_s() -> int:
    """How long an idle connection stays open (``keep_alive_s``): uvicorn's own default,
    5 s, is what clients' pools use too, and a client that reuses a connection just as
    the server closes it loses the request (measured: 3 of 60 requests sent after 4.99 to
    5.02 s idle got no response)."""
    from .settings import Settings

    return Settings().keep_alive_s


# A shared listening socket lets whichever worker wakes first accept: measured here, 100
# keep-alive clients connecting at once landed 96/4 and 73/27 on two idle workers, and
# each connection stays with its worker, so one worker did most of the work. With a
# socket of its own per worker (SO_REUSEPORT), Linux spreads new connections over the
# workers by a hash of the connection.

#: uvicorn's exit status for a worker that failed before serving.
_STARTUP_FAILURE = 3


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker_main(host: str, port: int, log_level: str) -> None:
    """One worker process: its own listening socket on the shared port, the app from
    :func:`worker_app`, uvicorn's graceful shutdown on SIGTERM/SIGINT."""
    import uvicorn

    config = uvicorn.Config(
        "service.serving:worker_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        timeout_keep_alive=_keep_alive_s(),
    )
    server = uvicorn.Server(config)
    try:
        sock = _reuseport_socket(host, port)
    except OSError as exc:
        log.error("worker cannot listen on %s:%d: %s", host, port, exc)
        raise SystemExit(_STARTUP_FAILURE) from exc
    server.run(sockets=[sock])
    if not server.started:
        raise SystemExit(_STARTUP_FAILURE)


def _supervise(host: str, port: int, workers: int, log_level: str) -> None:
    """Run ``workers`` worker processes until this process is told to stop; a worker
    that dies is replaced, one that cannot start stops the server."""
    import multiprocessing

    if port == 0:
        with socket.socket() as probe:  # one port for every worker
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    # a port another server holds (without SO_REUSEPORT) fails here, before any worker
    _reuseport_socket(host, port).close()
    ctx = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        proc = ctx.Process(target=_worker_main, args=(host, port, log_level), daemon=False)
        proc.start()
        return proc

    procs = [start() for _ in range(workers)]
    log.info("serving on %s:%d with %d worker processes", host, port, workers)
    try:
        while True:
            time.sleep(0.5)
            for i, proc in enumerate(procs):
                if proc.is_alive():
                    continue
                if proc.exitcode == _STARTUP_FAILURE:
                    raise SystemExit(f"worker process {proc.pid} failed to start; stopping")
                log.warning(
                    "worker process %s exited (%s); starting another", proc.pid, proc.exitcode
                )
                procs[i] = start()
    finally:
        for proc in procs:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
