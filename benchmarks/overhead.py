"""Figures 1 and 6: pipeline overhead (everything but the model call) and how it scales.

One run = parse the request body, ``service.pipeline.analyze`` with an instant fake model
(prepare, analyzers, prompt render, reply parse/validate, ground/verify, merge) and
serialise the response to JSON as the API does; the fake call's own time is subtracted.
Run alone: ``python -m benchmarks.overhead``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import inspect
import io
import itertools
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from service.pipeline import analyze
from service.prompts import PromptTemplate, load_prompt
from service.schemas import AnalysisRequest
from service.settings import Settings

from .common import (
    InstantLLM,
    article_of_words,
    loglog_slope,
    reply_for_text,
    seed_text,
    summary,
    variants,
    word_count,
)

SCALING_WORDS = (500, 2_000, 8_000, 32_000)


class Runner:
    """Runs the pipeline on one article with a reply built from its own sentences."""

    def __init__(self, text: str, settings: Settings, prompt: PromptTemplate) -> None:
        self.bodies = [json.dumps({"text": t}).encode("utf-8") for t in variants(text)]
        self.count = 0
        self.settings = settings
        self.prompt = prompt
        self.llm = InstantLLM(reply_for_text(text))

    async def once(self) -> float:
        """One request's overhead in ms (total minus the fake model call)."""
        spent_before = self.llm.spent_s
        body = self.bodies[self.count % len(self.bodies)]
        self.count += 1
        t0 = time.perf_counter()
        request = AnalysisRequest.model_validate_json(body)
        response = await analyze(request, self.settings, self.llm, self.prompt)
        payload = json.dumps(
            response.model_dump(mode="json"),
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        ).encode("utf-8")
        total = time.perf_counter() - t0
        assert payload
        return (total - (self.llm.spent_s - spent_before)) * 1000

    def measure(self, runs: int, warmup: int = 3, budget_s: float = 60.0) -> list[float]:
        """``runs`` timings in ms (fewer if ``budget_s`` runs out; at least one)."""

        async def go() -> list[float]:
            for _ in range(warmup):
                await self.once()
            out: list[float] = []
            deadline = time.monotonic() + budget_s
            for _ in range(runs):
                gc.collect()
                out.append(await self.once())
                if time.monotonic() > deadline:
                    break
            return out

        return asyncio.run(go())


class _Timers:
    """Wall-clock timers around the functions ``service.pipeline`` calls, installed by
    rebinding names in the modules' namespaces of this process only (restored on exit).
    Each call records its inclusive time and its exclusive time (minus timed callees)."""

    def __init__(self) -> None:
        self.stack: list[float] = []  # time spent in timed callees, per open call
        self.records: list[tuple[str, int, float, float]] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _enter(self) -> tuple[int, float]:
        self.stack.append(0.0)
        return len(self.stack) - 1, time.perf_counter()

    def _exit(self, label: str, depth: int, t0: float) -> None:
        inclusive = time.perf_counter() - t0
        children = self.stack.pop()
        if self.stack:
            self.stack[-1] += inclusive
        self.records.append((label, depth, inclusive, inclusive - children))

    def _wrap(self, label: str, fn: Any) -> Any:
        timers = self
        if inspect.iscoroutinefunction(fn):

            async def async_timed(*args: Any, **kwargs: Any) -> Any:
                depth, t0 = timers._enter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    timers._exit(label, depth, t0)

            return async_timed

        def timed(*args: Any, **kwargs: Any) -> Any:
            depth, t0 = timers._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers._exit(label, depth, t0)

        return timed

    def __enter__(self) -> _Timers:
        import service.pipeline
        import service.support

        targets: list[tuple[Any, str]] = [
            (service.pipeline, name)
            for name, obj in vars(service.pipeline).items()
            if inspect.isfunction(obj)
            and name != "analyze"
            and str(getattr(obj, "__module__", "")).startswith("service.")
        ]
        if hasattr(service.support, "_article"):
            targets.append((service.support, "_article"))
        for module, name in targets:
            original = getattr(module, name)
            module_name = str(getattr(original, "__module__", module.__name__))
            label = f"{module_name.removeprefix('service.')}.{getattr(original, '__name__', name)}"
            self._saved.append((module, name, original))
            setattr(module, name, self._wrap(label, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name, original in reversed(self._saved):
            setattr(module, name, original)


def stage_times(runner: Runner, runs: int) -> dict[str, Any]:
    """Median wall-clock ms per run of every function ``service.pipeline`` calls (its
    exclusive time, i.e. minus the timed functions it calls, so the rows add up to the
    total), plus request parsing, response serialisation and ``analyze``'s own code
    (which includes the schema generation it does inline). No profiler distortion."""
    per_run: list[dict[str, tuple[float, float]]] = []
    totals: list[float] = []

    async def go() -> None:
        await runner.once()
        for _ in range(runs):
            body = runner.bodies[runner.count % len(runner.bodies)]
            runner.count += 1
            gc.collect()
            with _Timers() as timers:
                t0 = time.perf_counter()
                request = AnalysisRequest.model_validate_json(body)
                t1 = time.perf_counter()
                response = await analyze(request, runner.settings, runner.llm, runner.prompt)
                t2 = time.perf_counter()
                json.dumps(
                    response.model_dump(mode="json"),
                    ensure_ascii=False,
                    allow_nan=False,
                    separators=(",", ":"),
                ).encode("utf-8")
                t3 = time.perf_counter()
            row: dict[str, tuple[float, float]] = {
                "request parse (AnalysisRequest)": (t1 - t0, t1 - t0),
                "response serialise (model_dump + json)": (t3 - t2, t3 - t2),
            }
            top = 0.0
            for label, depth, inclusive, exclusive in timers.records:
                inc, exc = row.get(label, (0.0, 0.0))
                row[label] = (inc + inclusive, exc + exclusive)
                if depth == 0:
                    top += inclusive
            own = (t2 - t1) - top
            row["pipeline.analyze (own code)"] = (t2 - t1, own)
            per_run.append(row)
            totals.append(t3 - t0)

    asyncio.run(go())
    labels = {k for row in per_run for k in row}
    total_ms = statistics.median(totals) * 1000
    rows: list[dict[str, Any]] = []
    for label in labels:
        inc = statistics.median(r.get(label, (0.0, 0.0))[0] for r in per_run) * 1000
        exc = statistics.median(r.get(label, (0.0, 0.0))[1] for r in per_run) * 1000
        rows.append(
            {
                "function": label,
                "exclusive_ms": round(exc, 2),
                "inclusive_ms": round(inc, 2),
                "share": round(exc / total_ms, 3),
            }
        )
    rows.sort(key=lambda r: -float(r["exclusive_ms"]))
    return {
        "runs": runs,
        "total_ms": round(total_ms, 2),
        "functions": [r for r in rows if float(r["inclusive_ms"]) >= 0.05],
    }


def _label(func: tuple[str, int, str]) -> str:
    filename, _, name = func
    parts = Path(filename).with_suffix("").parts
    if "service" in parts:
        module = ".".join(parts[len(parts) - parts[::-1].index("service") - 1 :])
        return f"{module}.{name}"
    if "site-packages" in parts:
        module = ".".join(parts[parts.index("site-packages") + 1 :])
        return f"{module}.{name}"
    if filename == "~":
        return name.strip("<>").replace("built-in method ", "")
    return f"{Path(filename).stem}.{name}"


def profile(runner: Runner, runs: int) -> dict[str, Any]:
    """cProfile ``runs`` runs: the share of each pipeline stage (functions called
    directly by ``Runner.once`` and ``pipeline.analyze``) and the top functions by own
    time. Shares are of the profiled total (profiling inflates absolute times)."""
    import service.pipeline

    profiler = cProfile.Profile()

    async def go() -> None:
        await runner.once()
        profiler.enable()
        for _ in range(runs):
            await runner.once()
        profiler.disable()

    # cProfile sees only the thread that enabled it: keep long articles on this thread
    # while profiling (the timed runs above leave the pipeline's offloading as it is).
    saved = getattr(service.pipeline, "OFFLOAD_CHARS", None)
    if saved is not None:
        service.pipeline.OFFLOAD_CHARS = 10**12
    try:
        asyncio.run(go())
    finally:
        if saved is not None:
            service.pipeline.OFFLOAD_CHARS = saved
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    roots = {
        f
        for f in raw
        if (f[2] == "once" and f[0].endswith("overhead.py"))
        or (f[2] == "analyze" and f[0].endswith("pipeline.py"))
    }
    total = sum(raw[f][3] for f in roots if f[2] == "once")
    stages: dict[str, float] = {}
    for func, (_cc, _nc, _tt, _ct, callers) in raw.items():
        for caller, edge in callers.items():
            if caller in roots and func not in roots:
                label = _label(func)
                stages[label] = stages.get(label, 0.0) + edge[3]
    own = {_label(f): raw[f][2] for f in roots}
    for label, value in own.items():
        stages[f"{label} (own code)"] = value
    ranked = sorted(stages.items(), key=lambda kv: kv[1], reverse=True)
    top_own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:15]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    # paths relative to the checkout and the interpreter: the file is committed
    listing = text.getvalue()
    for root in (str(Path(__file__).resolve().parents[1]), sys.base_prefix, sys.prefix):
        listing = listing.replace(root.rstrip("/") + "/", "")
    return {
        "runs": runs,
        "profiled_ms_per_run": round(total / runs * 1000, 2),
        "stages": [
            {"stage": k, "ms_per_run": round(v / runs * 1000, 2), "share": round(v / total, 3)}
            for k, v in ranked
            if v / total >= 0.005
        ],
        "top_own_time": [
            {
                "function": _label(f),
                "ms_per_run": round(v[2] / runs * 1000, 2),
                "share": round(v[2] / total, 3),
                "calls_per_run": round(v[1] / runs, 1),
            }
            for f, v in top_own
        ],
        "cumulative_text": listing,
    }


def run(runs: int = 40, scaling_batches: int = 5, scaling_runs: int = 5) -> dict[str, Any]:
    """Figures 1 and 6. Returns overhead per article, scaling points and exponents, and
    a profile of the seed and 5,000-word runs."""
    settings = Settings()
    prompt = load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    seed = Runner(seed_text(), settings, prompt)
    big = Runner(article_of_words(5_000), settings, prompt)
    result: dict[str, Any] = {
        "articles": {
            "seed": {"words": word_count(seed_text()), "source": "shared/data/seed"},
            "5000w": {
                "words": 5_000,
                "source": "PolNeAR train articles concatenated (benchmarks.common)",
            },
        },
        "seed_ms": summary(seed.measure(runs)),
        "5000w_ms": summary(big.measure(runs)),
        "model_calls_per_article": seed.llm.calls / (runs + 3),
    }

    runners = {w: Runner(article_of_words(w), settings, prompt) for w in SCALING_WORDS}
    per_size: dict[int, list[float]] = {w: [] for w in SCALING_WORDS}
    exponents: list[float] = []
    deadline = time.monotonic() + 150
    for _ in range(scaling_batches):
        medians = []
        for words, runner in runners.items():
            times = runner.measure(scaling_runs, warmup=1, budget_s=20)
            per_size[words].extend(times)
            medians.append(sorted(times)[len(times) // 2])
        exponents.append(loglog_slope(list(SCALING_WORDS), medians))
        if time.monotonic() > deadline:
            break
    result["scaling"] = {
        "words": list(SCALING_WORDS),
        "ms": {str(w): summary(v) for w, v in per_size.items()},
        "ms_per_1000_words": {
            str(w): round(summary(v)["median"] / w * 1000, 2) for w, v in per_size.items()
        },
        "exponent": summary(exponents),
        "local_exponents": {
            f"{a}-{b}": round(
                loglog_slope(
                    [a, b], [summary(per_size[a])["median"], summary(per_size[b])["median"]]
                ),
                3,
            )
            for a, b in itertools.pairwise(SCALING_WORDS)
        },
        "exponent_of_medians": round(
            loglog_slope(
                list(SCALING_WORDS), [summary(per_size[w])["median"] for w in SCALING_WORDS]
            ),
            3,
        ),
    }
    result["stages"] = {"seed": stage_times(seed, 20), "5000w": stage_times(big, 10)}
    result["profile"] = {"seed": profile(seed, 15), "5000w": profile(big, 5)}
    return result


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    out = run(args.runs)
    for p in out["profile"].values():
        p.pop("cumulative_text")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
