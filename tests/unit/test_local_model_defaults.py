"""How the embedded model server is started and called when nothing is configured:
its threads, and the per-call timeout its CPU generation gets."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import localmodel, serving
from service.settings import LOCAL_TIMEOUT_S, Settings


def _threads(settings: Settings) -> str:
    command = localmodel.server_command(settings, Path("/models/m.gguf"))
    flag = "--threads" if "--threads" in command else "--n_threads"
    return command[command.index(flag) + 1]


def test_the_model_server_gets_every_usable_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving.os, "sched_getaffinity", lambda _pid: {0, 2, 5}, raising=False)
    assert localmodel.default_threads() == 3
    assert _threads(Settings()) == "3"


def test_configured_threads_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.setenv("FACTDESK_LOCAL_MODEL_THREADS", "1")
    assert _threads(Settings()) == "1"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, LOCAL_TIMEOUT_S),  # the embedded default model
        ({"FACTDESK_MODEL": "local/qwen2.5-0.5b"}, LOCAL_TIMEOUT_S),  # another bundled one
        ({"FACTDESK_MODEL": "openai/gpt-4o-mini"}, 180.0),  # a hosted model
        ({"FACTDESK_API_BASE": "http://127.0.0.1:9999/v1"}, 180.0),  # a server elsewhere
        ({"FACTDESK_API_BASE": "http://127.0.0.1:8081/v1"}, LOCAL_TIMEOUT_S),  # named as is
        ({"FACTDESK_TIMEOUT_S": "45"}, 45.0),  # said explicitly: kept
        ({"FACTDESK_MODEL": "local/qwen2.5-0.5b", "FACTDESK_TIMEOUT_S": "30"}, 30.0),
    ],
)
def test_per_call_timeout_defaults(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: float
) -> None:
    for name in (
        "FACTDESK_MODEL",
        "FACTDESK_API_BASE",
        "FACTDESK_TIMEOUT_S",
        "FACTDESK_LOCAL_MODEL_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings().timeout_s == expected
