"""A model server FactDesk starts never outlives it, even when FactDesk is SIGKILLed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from service import localmodel, models
from service.settings import Settings

pytestmark = pytest.mark.integration

PARENT = textwrap.dedent(
    """
    import sys, time
    from service import localmodel
    from service.settings import Settings

    settings = Settings(local_model="smollm2-135m", local_model_port=int(sys.argv[1]))
    server = localmodel.start(settings)
    print(server.process.pid, flush=True)
    time.sleep(600)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes (its parent, init, reaps it)
    stat = Path(f"/proc/{pid}/stat")
    return stat.is_file() and stat.read_text().split()[2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PDEATHSIG is Linux-only")
def test_model_server_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACTDESK_")}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(_free_port())],
        stdout=subprocess.PIPE,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"parent did not start the server: {line!r}"
        child = int(line)
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(child), "the model server outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_running_server_is_reused_only_when_it_serves_the_model_asked_for() -> None:
    port = _free_port()
    fast = Settings(local_model="smollm2-135m", local_model_port=port, _env_file=None)  # type: ignore[call-arg]
    with localmodel.start(fast) as server:
        assert server.process is not None
        again = localmodel.start(fast)
        assert again.process is None, "the running server of the same model is reused"
        assert again.model_name == server.model_name
        default = fast.model_copy(update={"local_model": models.DEFAULT_MODEL})
        with pytest.raises(localmodel.LocalModelError, match=r"serves SmolLM2.*, not qwen2\.5"):
            localmodel.start(default)
        assert server.process.poll() is None, "the other model's server is left running"
