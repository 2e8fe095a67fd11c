"""Shared fixtures. Tests never reach a network by accident: litellm runs on its local
cost map and plain httpx (recordable), cassettes replay with record mode ``none``."""

from __future__ import annotations

import os

os.environ.setdefault("DISABLE_AIOHTTP_TRANSPORT", "True")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Logic and fault tests script the one-call reply shape of analyze.v1; tests of the
# default focused-call prompt (analyze.v2) ask for it explicitly.
os.environ.setdefault("FACTDESK_PROMPT_VERSION", "v1")
# Every app a test builds stores into a throw-away SQLite database unless the test names
# another backend; nothing lands in the user's real data dir.
import tempfile

os.environ.setdefault("FACTDESK_DATA_DIR", tempfile.mkdtemp(prefix="factdesk-tests-"))

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.settings import Settings
from service.text import Document, prepare
from tests.fakeserver import FakeModelServer

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEED_PATH = SHARED / "data/seed/baghuz-voa-2019-03.txt"


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED_PATH.is_file():
        pytest.fail(f"the seed article {SEED_PATH} is missing: put ../shared beside the repo")
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test stores into its own SQLite database, so one test's stored results (and
    the result cache) never answer another's requests."""
    monkeypatch.setenv("FACTDESK_DATA_DIR", str(tmp_path / "factdesk-data"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with fast retries so fault tests stay quick."""
    return Settings(
        data_dir=tmp_path / "factdesk-data",
        model="openai/local",
        transport_retries=2,
        retry_base_s=0.01,
        retry_max_wait_s=1.0,
        timeout_s=5.0,
        max_reasks=2,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def fake_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


def sid(doc: Document, needle: str) -> str:
    """Id of the first sentence containing ``needle``."""
    for s in doc.sentences:
        if needle in s.text:
            return s.id
    raise AssertionError(f"no sentence contains {needle!r}")


def seed_llm_output(text: str) -> dict[str, Any]:
    """A faithful model answer for the seed article, citing the real sentence ids."""
    doc = prepare(text)
    s_pentagon = sid(doc, "the Pentagon estimates about 20,000")
    s_un = sid(doc, "perhaps closer to 25,000")
    s_conf = sid(doc, "pretty confident the leadership")
    s_irc = sid(doc, "International Rescue Committee warned")
    s_ypg = sid(doc, "YPG media official tweeted")
    return {
        "summary": [
            {
                "text": "The Pentagon estimates about 20,000 people have fled Baghuz.",
                "sentences": [s_pentagon],
            },
            {
                "text": "The International Rescue Committee warned the al-Hol camp was being "
                "pushed to a breaking point.",
                "sentences": [s_irc],
            },
        ],
        "claims": [
            {
                "text": "About 20,000 people have fled Baghuz.",
                "speaker": "the Pentagon",
                "speaker_type": "organization",
                "cue": "estimates",
                "sentences": [s_pentagon],
                "quote": None,
            },
            {
                "text": "The IS leadership is not still in Baghuz.",
                "speaker": "a senior U.S. defense official",
                "speaker_type": "anonymous",
                "cue": "said",
                "sentences": [s_conf],
                "quote": "We're pretty confident the leadership is not still down in this tiny "
                "little, basically, hellhole that remains",
            },
            {
                "text": "45,000 people had taken refuge in the final corner of the IS caliphate.",
                "speaker": "A YPG media official",
                "speaker_type": "anonymous",
                "cue": "tweeted",
                "sentences": [s_ypg],
                "quote": None,
            },
        ],
        "flags": [
            {"type": "hedge", "sentences": [s_un], "cue": "perhaps closer to"},
            {"type": "estimate", "sentences": [s_pentagon], "cue": "estimates about"},
        ],
    }


def spans_in(obj: Any) -> Iterator[dict[str, Any]]:
    """Every span-shaped dict ({start, end, text}) anywhere in a JSON response."""
    if isinstance(obj, dict):
        if {"start", "end", "text"} <= obj.keys():
            yield obj
        for v in obj.values():
            yield from spans_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from spans_in(v)


def assert_offset_contract(text: str, response: dict[str, Any]) -> int:
    """Every span satisfies text[start:end] == span.text; returns how many were checked."""
    n = 0
    for span in spans_in(response):
        assert 0 <= span["start"] <= span["end"] <= len(text), span
        assert text[span["start"] : span["end"]] == span["text"], span
        n += 1
    for s in response.get("sentences", []):
        assert 0 <= s["start"] < s["end"] <= len(text)
        n += 1
    return n


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """Cassettes: matched on the whole request including its body (an edited prompt does
    not replay), with credentials filtered out."""
    return {
        "filter_headers": [
            "authorization",
            "api-key",
            "x-api-key",
            "openai-organization",
            "anthropic-api-key",
            "cookie",
        ],
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
    }
