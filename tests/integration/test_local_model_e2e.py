"""End to end for real: `factdesk serve` starts llama.cpp's server with the bundled model,
and the seed article goes through the HTTP API. Asserts the contract, not the wording."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.schemas import AnalysisResponse
from tests.conftest import assert_offset_contract
from tests.fakeserver import _free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, model_port = _free_port(), _free_port()
    log = tmp_path_factory.mktemp("serve") / "model.log"
    env = {
        **os.environ,
        "FACTDESK_PORT": str(port),
        "FACTDESK_LOCAL_MODEL_PORT": str(model_port),
    }
    env.pop("FACTDESK_MODEL", None)
    env.pop("FACTDESK_API_BASE", None)
    env.pop("FACTDESK_PROMPT_VERSION", None)  # the default prompt, as `make run` serves it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            "serve",
            "--model-log",
            str(log),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                tail = log.read_text()[-2000:] if log.exists() else "(no model server log)"
                pytest.fail(f"factdesk serve exited with {proc.returncode}: {tail}")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the API did not become ready"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_seed_article_end_to_end(live_api: str, seed_text: str) -> None:
    r = httpx.post(live_api + "/v1/analyses", json={"text": seed_text}, timeout=600)
    assert r.status_code == 200, r.text
    body = r.json()
    result = AnalysisResponse.model_validate(body)
    assert assert_offset_contract(seed_text, body) >= len(result.sentences) > 10
    assert result.meta.usage.prompt_tokens > 1000
    assert result.meta.attempts >= 1
    assert all(c.verification.status != "unsupported" for c in result.claims)


def test_health_and_bad_input_on_the_live_server(live_api: str) -> None:
    assert httpx.get(live_api + "/healthz").json()["status"] == "ok"
    r = httpx.post(live_api + "/v1/analyses", json={"text": "   "})
    assert r.status_code == 422
    assert r.json()["type"] == "/problems/empty-text"
