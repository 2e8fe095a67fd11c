"""Run eval cases through the real pipeline, replaying (or recording) each case's model
exchanges from a vcrpy cassette at ``evals/cassettes/<model-slug>/<case>.yaml``.

Replay needs no network and no model server. A request the cassette does not hold (the
prompt, schema, settings or segmentation changed since it was recorded) makes the case's
outcome ``cassette-mismatch``: the run is then not a measurement of this code, and says
to re-record with ``make evals-record``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from service.errors import FactDeskError, ModelError
from service.generate import prompt_sha256
from service.models import DEFAULT_MODEL
from service.prompts import PromptTemplate
from service.schemas import AnalysisOptions, AnalysisRequest, AnalysisResponse
from service.settings import LOCAL_PREFIX, Settings

from .dataset import Case
from .metrics import Score, score_case

DEFAULT_LABEL = LOCAL_PREFIX + DEFAULT_MODEL

CASSETTES_DIR = Path(__file__).resolve().parent / "cassettes"
RERECORD_COMMAND = "make evals-record"
#: Outcomes that mean the recording, not the model, is the problem.
STALE_OUTCOMES = frozenset({"cassette-mismatch", "cassette-missing"})
Mode = Literal["replay", "record"]

FILTER_HEADERS = ["authorization", "api-key", "x-api-key", "openai-organization", "cookie"]
MATCH_ON = ["method", "scheme", "host", "port", "path", "query", "body"]
_META_KEY = "factdesk"
RECORD_TIMEOUT_S = 600.0


def rerecord_command(model: str) -> str:
    """The command that re-records the suite's cassettes for ``model``."""
    if model.startswith(LOCAL_PREFIX):
        return RERECORD_COMMAND + ("" if model == DEFAULT_LABEL else f" MODEL={model}")
    return f"factdesk evals run --record --model {model}"


def model_slug(model: str) -> str:
    """Directory name for a model's cassettes (``openai/local`` -> ``openai-local``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-").lower() or "model"


def cassette_path(case_id: str, model: str, root: Path = CASSETTES_DIR) -> Path:
    """Where the cassette of ``case_id`` for ``model`` lives."""
    return root / model_slug(model) / f"{case_id}.yaml"


def offline_env() -> None:
    """Make litellm recordable and offline (plain httpx, bundled cost map); must run
    before litellm is first imported."""
    os.environ.setdefault("DISABLE_AIOHTTP_TRANSPORT", "True")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@dataclass
class CaseResult:
    """One case run: its outcome, the analysis (when one came back) and its score."""

    case: Case
    outcome: str
    detail: str | None
    response: AnalysisResponse | None
    score: Score
    attempts: int | None
    latency_ms: float | None
    run_ms: float
    cassette: str
    recorded_at: str | None = None
    interactions: int = 0
    played: int = 0

    @property
    def stale(self) -> bool:
        """True when the cassette could not serve this code's requests."""
        return self.outcome in STALE_OUTCOMES


@dataclass
class SuiteResult:
    """Every case of one run plus how it was run."""

    model: str
    mode: Mode
    cases: list[CaseResult]
    started_at: str
    prompt_version: str | None = None
    prompt_sha256: str | None = None
    wall_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def stale(self) -> list[CaseResult]:
        """Cases whose cassette no longer matches the code."""
        return [c for c in self.cases if c.stale]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def cassette_miss(exc: BaseException) -> BaseException | None:
    """The vcrpy "no recorded response for this request" error behind ``exc``, if any
    (litellm and the OpenAI client wrap it as a connection error)."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    for e in _chain(exc):
        if isinstance(e, CannotOverwriteExistingCassetteException):
            return cast(BaseException, e)
    return None


def _vcr(record_mode: str) -> Any:
    import vcr

    return vcr.VCR(
        record_mode=record_mode,
        match_on=MATCH_ON,
        filter_headers=FILTER_HEADERS,
        decode_compressed_response=True,
    )


def _first_lines(text: str, n: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:n])


async def _analyze_case(
    case: Case, settings: Settings, prompt: PromptTemplate | None
) -> tuple[AnalysisResponse | None, str, str | None, int | None]:
    """``(response, outcome, detail, attempts)`` of one case through the pipeline, with
    the API's own input checks. Errors become the outcome (their problem slug, or
    ``internal-error``); only a cassette miss is raised."""
    from service.llm import LiteLLMClient
    from service.pipeline import analyze

    if not case.text.strip():
        return None, "empty-text", "the article is empty", None
    if len(case.text) > settings.max_text_chars:
        return None, "text-too-long", f"{len(case.text):,} characters", None
    request = AnalysisRequest(
        text=case.text, title=case.title, options=AnalysisOptions(summary_sentences=3)
    )
    try:
        response = await analyze(request, settings, LiteLLMClient(settings), prompt)
    except ModelError as exc:
        if cassette_miss(exc) is not None:
            raise
        return None, exc.slug, exc.detail, exc.record.attempts
    except FactDeskError as exc:
        return None, exc.slug, exc.detail, None
    except Exception as exc:  # a bug in the pipeline is this case's result, not a crash
        if cassette_miss(exc) is not None:
            raise
        return None, "internal-error", f"{exc.__class__.__name__}: {exc}"[:1000], None
    return response, "ok", None, response.meta.attempts


async def run_case(
    case: Case,
    settings: Settings,
    *,
    mode: Mode = "replay",
    cassettes: Path = CASSETTES_DIR,
    prompt: PromptTemplate | None = None,
) -> CaseResult:
    """Run one case against its cassette. Replay: record mode ``none`` (a request not in
    the cassette gives outcome ``cassette-mismatch``, a missing file
    ``cassette-missing``). Record: the case is run against the live model into a fresh
    cassette that replaces the old one only when the model was reached."""
    path = cassette_path(case.id, settings.model_label(), cassettes)
    t0 = time.perf_counter()
    if mode == "replay" and not path.is_file():
        score = score_case(case, None, outcome="cassette-missing")
        return CaseResult(
            case,
            "cassette-missing",
            f"no cassette at {path}\n-> record it with "
            f"`{rerecord_command(settings.model_label())}`",
            None,
            score,
            None,
            None,
            0.0,
            str(path),
        )
    target = path
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".yaml", prefix=f".{case.id}.", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
        target = Path(tmp)
    recorder = _vcr("none" if mode == "replay" else "all")
    response: AnalysisResponse | None = None
    detail: str | None = None
    attempts: int | None = None
    recorded_at: str | None = None
    latency_ms: float | None = None
    with recorder.use_cassette(str(target)) as cassette:
        try:
            response, outcome, detail, attempts = await _analyze_case(case, settings, prompt)
        except Exception as exc:  # only cassette misses get here (see _analyze_case)
            miss = cassette_miss(exc)
            outcome, detail = "cassette-mismatch", _first_lines(str(miss or exc))
        run_ms = (time.perf_counter() - t0) * 1000
        interactions, played = len(cassette), cassette.play_count
        if mode == "replay" and outcome != "cassette-mismatch" and played < interactions:
            outcome = "cassette-mismatch"
            detail = (
                f"the cassette holds {interactions} exchange(s) but this code made only "
                f"{played} of them"
            )
        if mode == "record":
            latency_ms = round(run_ms, 1)
            recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
            meta = {
                "case": case.id,
                "model": settings.model_label(),
                "recorded_at": recorded_at,
                "latency_ms": latency_ms,
                "outcome": outcome,
                "prompt_sha256": response.meta.prompt_sha256 if response else None,
            }
            cassette.get_metadata(_META_KEY, meta)
        else:
            from vcr.errors import MissingMetadataError

            try:
                stored: dict[str, Any] = cassette.get_metadata(_META_KEY, None) or {}
            except MissingMetadataError:
                stored = {}
            latency = stored.get("latency_ms")
            latency_ms = float(latency) if isinstance(latency, int | float) else None
            recorded_at = str(stored["recorded_at"]) if stored.get("recorded_at") else None
    if mode == "record":
        if outcome in ("model-unavailable", "model-timeout") or not target.is_file():
            target.unlink(missing_ok=True)
            detail = f"not recorded (old cassette kept): {detail or outcome}"
        else:
            shutil.move(target, path)
    if outcome in STALE_OUTCOMES:
        detail = f"{detail}\n-> re-record with `{rerecord_command(settings.model_label())}`"
    score = score_case(case, response, outcome=outcome, attempts=attempts, latency_ms=latency_ms)
    return CaseResult(
        case=case,
        outcome=outcome,
        detail=detail,
        response=response,
        score=score,
        attempts=attempts,
        latency_ms=latency_ms,
        run_ms=round(run_ms, 1),
        cassette=str(path),
        recorded_at=recorded_at,
        interactions=interactions,
        played=played,
    )


def eval_settings(model: str | None, mode: Mode, base: Settings | None = None) -> Settings:
    """Settings for a run: the environment's, with ``model`` if given; replay makes no
    transport retries (a cassette miss is not worth retrying)."""
    settings = base or Settings()
    update: dict[str, Any] = {}
    if model:
        settings = type(settings)(**{**settings.model_dump(exclude_unset=True), "model": model})
    if mode == "replay":
        update["transport_retries"] = 0
    else:
        # A small model on a shared CPU can be slow; the timeout is not part of the
        # recorded request, so a generous one only avoids losing a recording.
        update["timeout_s"] = max(settings.timeout_s, RECORD_TIMEOUT_S)
    return settings.model_copy(update=update)


ProgressFn = Callable[[int, int, str, CaseResult | None], None]


async def run_suite_async(
    cases: Sequence[Case],
    settings: Settings,
    *,
    mode: Mode = "replay",
    cassettes: Path = CASSETTES_DIR,
    prompt: PromptTemplate | None = None,
    progress: ProgressFn | None = None,
) -> SuiteResult:
    """Run ``cases`` one after another (model servers serve one request at a time)."""
    from service.prompts import load_prompt

    offline_env()
    t0 = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    template = prompt or load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    results: list[CaseResult] = []
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case.id, None)
        result = await run_case(case, settings, mode=mode, cassettes=cassettes, prompt=template)
        results.append(result)
        if progress:
            progress(i + 1, len(cases), case.id, result)
    return SuiteResult(
        model=settings.model_label(),
        mode=mode,
        cases=results,
        started_at=started,
        prompt_version=template.label,
        prompt_sha256=prompt_sha256(template),
        wall_s=round(time.perf_counter() - t0, 2),
    )


def run_suite(
    cases: Sequence[Case],
    settings: Settings,
    *,
    mode: Mode = "replay",
    cassettes: Path = CASSETTES_DIR,
    prompt: PromptTemplate | None = None,
    progress: ProgressFn | None = None,
) -> SuiteResult:
    """Synchronous :func:`run_suite_async`."""
    return asyncio.run(
        run_suite_async(
            cases, settings, mode=mode, cassettes=cassettes, prompt=prompt, progress=progress
        )
    )
