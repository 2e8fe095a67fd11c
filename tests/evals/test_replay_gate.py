"""The recorded suite replayed offline through the real pipeline, gated on the
committed baseline. Fails when a cassette no longer matches what the code sends (with the
command to re-record) and when a metric falls below the baseline (naming case and
metric)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evals.cli import EXIT_GATE, EXIT_STALE
from evals.dataset import load_cases
from evals.gate import BASELINE_PATH, check, load_baseline
from evals.report import build_report, stale_message
from evals.runner import (
    DEFAULT_LABEL,
    RERECORD_COMMAND,
    cassette_path,
    eval_settings,
    run_suite,
)
from service.cli import main
from service.prompts import load_prompt
from service.settings import Settings


@pytest.fixture(autouse=True)
def _default_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite replays what `make run` serves: the default prompt."""
    monkeypatch.setenv("FACTDESK_PROMPT_VERSION", "v2")


def _settings() -> Settings:
    # the default path: the default bundled model and the default prompt
    return eval_settings(None, "replay", Settings(prompt_version="v2", _env_file=None))


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """The whole suite, replayed once for this module."""
    return build_report(run_suite(load_cases(), _settings(), mode="replay"))


def test_every_case_has_a_cassette_for_the_local_model() -> None:
    for case in load_cases():
        path = cassette_path(case.id, DEFAULT_LABEL)
        assert path.is_file(), f"{path} missing: run `{RERECORD_COMMAND}`"
        text = path.read_text(encoding="utf-8").lower()
        assert "authorization:" not in text and "api-key:" not in text


def test_every_cassette_replays_against_the_current_code(report: dict[str, Any]) -> None:
    if report["stale_cases"]:
        pytest.fail(stale_message(report))
    for case in report["cases"]:
        assert case["outcome"] not in ("model-unavailable", "model-timeout"), case["detail"]


def test_replay_meets_the_committed_baseline(report: dict[str, Any]) -> None:
    baseline = load_baseline(BASELINE_PATH)
    assert baseline is not None, f"{BASELINE_PATH} missing: run `{RERECORD_COMMAND}`"
    assert baseline["model"] == report["model"] == DEFAULT_LABEL
    assert set(baseline["cases"]) == {c["id"] for c in report["cases"]}
    failures = check(report, baseline)
    assert not failures, "below the baseline:\n" + "\n".join(f.message() for f in failures)


def test_replay_is_a_real_measurement(report: dict[str, Any]) -> None:
    by_id = {c["id"]: c for c in report["cases"]}
    seed = by_id["seed-baghuz"]
    assert seed["outcome"] == "ok"
    resp = seed["response"]
    assert resp["meta"]["model"] == DEFAULT_LABEL
    assert resp["meta"]["usage"]["prompt_tokens"] > 1000
    for span in (e for c in resp["claims"] for e in c["evidence"]):
        assert seed["text"][span["start"] : span["end"]] == span["text"]
    assert seed["metrics"]["dedup_recall"] == 1.0
    long = by_id["long-budget"]
    assert long["outcome"] == "context-window-exceeded"
    assert report["metrics"]["outcome_accuracy"] is not None
    assert all(c["latency_ms"] for c in report["cases"]), "recorded latency kept"


def test_a_changed_prompt_cannot_replay_green() -> None:
    settings = _settings()
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    edited = dataclasses.replace(prompt, system=prompt.system + "\nBe concise.")
    result = run_suite(load_cases(pattern="wire-brief"), settings, prompt=edited)
    (case,) = result.cases
    assert case.outcome == "cassette-mismatch"
    assert case.detail is not None and RERECORD_COMMAND in case.detail
    assert RERECORD_COMMAND in stale_message(build_report(result))


def test_the_cli_fails_on_a_stale_cassette_and_names_the_rerecord_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts"
    shutil.copytree(Settings(_env_file=None).prompts_dir, prompts)
    system = prompts / "analyze.v2.system.md"
    system.write_text(system.read_text(encoding="utf-8") + "\nBe concise.\n", encoding="utf-8")
    monkeypatch.setenv("FACTDESK_PROMPTS_DIR", str(prompts))
    code = main(["evals", "run", "--cases", "wire-brief", "--report", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == EXIT_STALE
    assert RERECORD_COMMAND in err and "wire-brief" in err


def test_the_cli_gate_names_the_case_and_metric_that_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = load_baseline(BASELINE_PATH)
    assert baseline is not None
    case_id = "wire-brief"
    metrics = baseline["cases"][case_id]
    name = next(n for n in ("claim_recall", "outcome_accuracy") if n in metrics)
    metrics[name] = metrics[name] + 0.5  # demand more than was recorded
    raised = tmp_path / "baseline.json"
    raised.write_text(json.dumps(baseline), encoding="utf-8")
    code = main(
        [
            "evals",
            "run",
            "--cases",
            case_id,
            "--baseline",
            str(raised),
            "--report",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert code == EXIT_GATE
    assert f"{case_id}: {name} =" in err
    assert (tmp_path / "r/report.json").is_file() and (tmp_path / "r/report.html").is_file()


def test_compare_shows_two_runs_metric_by_metric_and_case_by_case(
    tmp_path: Path, report: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    a = tmp_path / "a.json"
    b = tmp_path / "b.json"
    a.write_text(json.dumps(report), encoding="utf-8")
    worse = json.loads(json.dumps(report))
    worse["metrics"]["claim_recall"] = 0.0
    worse["cases"][0]["outcome"] = "model-output-invalid"
    b.write_text(json.dumps(worse), encoding="utf-8")
    assert main(["evals", "compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    first = report["cases"][0]["id"]
    assert "claim_recall" in out and "changed" in out and first in out
