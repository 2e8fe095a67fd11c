"""The embedded default model: llama.cpp's OpenAI-compatible HTTP server on 127.0.0.1,
serving a bundled GGUF (:mod:`service.models`) under the alias ``local``.

The server is llama.cpp's own C++ server (continuous batching, prompt-prefix cache,
JSON-schema-constrained decoding, and it stops generating when a client closes its
connection), from the prebuilt ``xllamacpp`` wheel; it runs in a child process
(``python -m service.llamaserver``). Where that wheel is not installed, llama-cpp-python's
server (``python -m llama_cpp.server``, built from source) is used instead. Either way the
child is bound to its parent: Linux delivers SIGTERM to it when the process that started it
dies, even by SIGKILL, so no model server outlives FactDesk.
"""

from __future__ import annotations

import importlib.util
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import models
from .settings import Settings

log = logging.getLogger("factdesk.localmodel")

#: The alias every local model is served under (the ``local`` of ``openai/local``).
ALIAS = "local"


class LocalModelError(RuntimeError):
    """The local model server cannot be started; the message says what to install or fix."""


def local_model_choice(settings: Settings) -> str:
    """The slug or path of the GGUF the embedded server serves."""
    if settings.local_model_path is not None:
        return str(settings.local_model_path)
    return settings.local_model


def find_model_path(settings: Settings) -> Path:
    """The verified GGUF file to serve (assembled into the model cache if needed)."""
    try:
        return models.resolve(local_model_choice(settings), settings.model_cache)[1]
    except models.ModelFileError as exc:
        raise LocalModelError(str(exc)) from exc


def runtime() -> str:
    """Which llama.cpp server is installed: ``xllamacpp`` (prebuilt) or ``llama_cpp``."""
    if importlib.util.find_spec("xllamacpp") is not None:
        return "xllamacpp"
    if importlib.util.find_spec("llama_cpp") is not None:
        return "llama_cpp"
    raise LocalModelError(
        "no llama.cpp server is installed: run `make install` (or `pip install "
        "'factdesk[local]'`; `pip install 'factdesk[local-source]'` builds llama-cpp-python)"
    )


def default_threads() -> int:
    """Threads for the model server: every usable core. While the model generates, the
    API waits on it and uses next to no CPU, so both cores go to the model: on this kind
    of 2-core machine the seed analysis took 101 s with two threads against 179 s with
    one (Qwen2.5-1.5B, quiet machine). llama.cpp's threads wait for each other at every
    step, so when another process keeps a core busy, two threads generate slower than
    one (3.1 against 5.5 tokens/s, measured with a busy loop on one core); on a machine
    shared with such work, set ``FACTDESK_LOCAL_MODEL_THREADS=1``."""
    from .serving import usable_cores

    return usable_cores()


def server_command(settings: Settings, model_path: Path) -> list[str]:
    """The command line that starts a llama.cpp server for ``model_path``."""
    threads = settings.local_model_threads or default_threads()
    if runtime() == "xllamacpp":
        return [
            sys.executable,
            "-m",
            "service.llamaserver",
            "--model",
            str(model_path),
            "--alias",
            ALIAS,
            "--host",
            settings.local_model_host,
            "--port",
            str(settings.local_model_port),
            "--ctx",
            str(settings.local_model_ctx),
            "--threads",
            str(threads),
        ]
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        ALIAS,
        "--host",
        settings.local_model_host,
        "--port",
        str(settings.local_model_port),
        "--n_ctx",
        str(settings.local_model_ctx),
        "--n_threads",
        str(threads),
    ]


def die_with_parent() -> None:
    """Ask Linux to SIGTERM the calling process when its parent dies, even on SIGKILL.

    Used as ``preexec_fn`` of every model server FactDesk starts; a no-op elsewhere."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def is_up(base_url: str, timeout: float = 1.0) -> bool:
    """True when an OpenAI-compatible server answers ``GET {base_url}/models``."""
    try:
        return httpx.get(base_url.rstrip("/") + "/models", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def served_model_file(base_url: str, timeout: float = 2.0) -> str | None:
    """The file name of the GGUF a llama.cpp server serves (its ``/props`` ``model_path``),
    or None when the server does not say (another OpenAI-compatible server)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        r = httpx.get(root + "/props", timeout=timeout)
        path = r.json().get("model_path") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return Path(path).name if isinstance(path, str) and path else None


@dataclass
class LocalModelServer:
    """A running llama.cpp server started by FactDesk (stopped by :meth:`stop`)."""

    process: subprocess.Popen[bytes] | None
    base_url: str
    model_name: str = ""

    def stop(self) -> None:
        """Terminate the server if this process started it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> LocalModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(settings: Settings, log_path: Path | None = None) -> LocalModelServer:
    """Start the local model server (or reuse one already answering on the port) and
    wait until it serves ``/v1/models``; raises :class:`LocalModelError` otherwise."""
    base = settings.local_api_base
    if is_up(base):
        model_path = find_model_path(settings)
        serving = served_model_file(base)
        if serving is not None and serving != model_path.name:
            raise LocalModelError(
                f"the model server already running at {base} serves {serving}, not "
                f"{model_path.name}: stop it, or set FACTDESK_LOCAL_MODEL_PORT to a free port"
            )
        log.info("reusing the model server already running at %s", base)
        return LocalModelServer(None, base, model_path.name)
    model_path = find_model_path(settings)
    cmd = server_command(settings, model_path)
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    log.info("starting local model server: %s", " ".join(cmd))
    process = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
    )
    server = LocalModelServer(process, base, model_path.name)
    deadline = time.monotonic() + settings.local_model_startup_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalModelError(
                f"the local model server exited with code {process.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
        if is_up(base):
            log.info("local model server ready at %s (%s)", base, model_path.name)
            return server
        time.sleep(0.25)
    server.stop()
    raise LocalModelError(
        f"the local model server did not start within {settings.local_model_startup_s:.0f}s"
    )
