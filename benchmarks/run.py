"""``make bench``: run every benchmark, write ``benchmarks/results/latest.json`` and
``benchmarks/results/latest.md`` and print the table.

Sections (each also runnable alone): :mod:`benchmarks.overhead` (figures 1, 6),
:mod:`benchmarks.local_model` (figures 2, 5), :mod:`benchmarks.throughput` (figures 3, 4),
:mod:`benchmarks.serving` (figure 7, worker processes).
A failing section is recorded under ``errors`` and makes the exit status 1; the others
still run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import local_model, overhead, serving, throughput
from .common import RESULTS_DIR, machine

Summary = dict[str, float | int]

#: Figures without a target that still go to the top level of ``latest.json``.
REPORTED = ("cpu_ms_seed", "cpu_ms_5000w")


def _row(
    key: str,
    label: str,
    unit: str,
    stats: Summary | None,
    target: tuple[str, float] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key, "figure": label, "unit": unit, "stats": stats}
    if target is not None:
        op, bound = target
        row["target"] = f"{op} {bound:g}"
        if stats is not None:
            value = float(stats["median"])
            row["met"] = value <= bound if op == "≤" else value >= bound
    return row


def _point(value: float) -> Summary:
    return {"median": value, "min": value, "max": value, "n": 1}


def figures(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows: every headline figure and the detail figures behind it."""
    rows: list[dict[str, Any]] = []
    ov = sections.get("overhead")
    if ov:
        rows += [
            _row("overhead_ms_seed", "1. Overhead, seed article", "ms", ov["seed_ms"], ("≤", 20)),
            _row(
                "overhead_ms_5000w",
                "1. Overhead, 5,000 words",
                "ms",
                ov["5000w_ms"],
                ("≤", 80),
            ),
        ]
    lm = sections.get("local_model")
    if lm:
        rows += [
            _row(
                "e2e_over_raw",
                "2. End-to-end ÷ raw call (local model, seed)",
                "×",
                lm["e2e_over_raw_pairs"],
                ("≤", 1.05),
            ),
            _row("e2e_s", "2. End-to-end via the API", "s", lm["e2e_s"]),
            _row("raw_s", "2. Raw call to the same server", "s", lm["raw_s"]),
            _row("e2e_minus_raw_ms", "2. End-to-end − raw", "ms", lm["e2e_minus_raw_ms"]),
            _row(
                "e2e_outside_model_ms",
                "2. Time of an end-to-end call outside the model call",
                "ms",
                lm["e2e_outside_model_ms"],
            ),
            _row(
                "e2e_model_call_over_raw",
                "2. Model call inside end-to-end (litellm) ÷ raw",
                "×",
                lm["e2e_model_call_over_raw_pairs"],
            ),
        ]
    tp = sections.get("throughput")
    if tp:
        for level in tp["levels"]:
            c = level["concurrency"]
            rows.append(
                _row(
                    f"efficiency_{c}",
                    f"3. Efficiency at {c} concurrent (seed)",
                    "",
                    level["efficiency"],
                    ("≥", 0.8) if c == 100 else None,
                )
            )
            rows.append(
                _row(
                    f"requests_per_s_{c}",
                    f"3. Requests/s at {c} concurrent (ideal {c})",
                    "req/s",
                    level["requests_per_s"],
                )
            )
        for item in tp["efficiency_100_by_article_size"]:
            if item["article"] != "seed":
                rows.append(
                    _row(
                        f"efficiency_100_{item['article']}",
                        f"3. Efficiency at 100 concurrent, {item['words']:,}-word article",
                        "",
                        item["efficiency"],
                    )
                )
        rows.append(
            _row(
                "api_cpu_ms_per_request_100",
                "3. API CPU per request at 100 concurrent (seed)",
                "ms",
                tp["levels"][-1]["api_cpu_ms_per_request"],
            )
        )
        mem = tp["memory_mb"]
        rows += [
            _row("rss_mb_idle", "4. API RSS idle", "MiB", _point(mem["idle"]["peak"])),
            _row(
                "rss_mb_5000w",
                "4. API peak RSS, one 5,000-word article",
                "MiB",
                _point(mem["one_5000w"]["peak"]),
            ),
            _row(
                "rss_mb_load_single_process",
                "4. API peak RSS, one process, 100 concurrent (seed)",
                "MiB",
                mem["load_100"],
            ),
            _row(
                "rss_mb_load_5000w",
                "4. API peak RSS, 100 concurrent 5,000-word",
                "MiB",
                mem["load_100_5000w"],
            ),
        ]
    if lm:
        if lm.get("model_server_rss_mb"):
            rows.append(
                _row(
                    "rss_mb_model_server",
                    "4. Model server peak RSS (llama.cpp, separate)",
                    "MiB",
                    _point(lm["model_server_rss_mb"]["peak"]),
                )
            )
        tok = lm["tokens"]
        rows += [
            _row(
                "prompt_token_ratio",
                "5. Prompt tokens ÷ article tokens (seed)",
                "×",
                _point(tok["prompt_token_ratio"]),
                ("≤", 1.5),
            ),
            _row(
                "prompt_token_ratio_5000w",
                "5. Prompt ÷ article tokens, 5,000 words (tokenizer estimate)",
                "×",
                _point(lm["prompt_token_ratio_5000w_estimated"]),
            ),
            _row(
                "model_calls_per_article",
                "5. Model calls per article (default options)",
                "",
                _point(tok["model_calls_per_article"]),
                ("≤", 1),
            ),
        ]
    sv = sections.get("serving")
    if sv:
        eff, scale, cpu = sv["efficiency_100_5s"], sv["worker_scaling_2"], sv["pipeline_cpu_ms"]
        rows += [
            _row(
                "efficiency_100_5s",
                "7. Efficiency at 100 concurrent, 5 s model, 2 workers (seed)",
                "",
                eff["efficiency"],
                ("≥", 0.9),
            ),
            _row(
                "worker_scaling_2",
                "7. Throughput 2 workers ÷ 1 worker (100 concurrent, 1 s model)",
                "×",
                scale["ratio"],
                ("≥", 1.7),
            ),
            _row(
                "healthz_p99_ms_load",
                "7. /healthz p99 while 100 analyses run (2 workers)",
                "ms",
                eff["healthz_p99_ms"],
                ("≤", 50),
            ),
            _row(
                "rss_mb_load",
                "7. Peak RSS per worker, 100 concurrent (seed, 2 workers)",
                "MiB",
                eff["worker_peak_rss_mb"],
                ("≤", 300),
            ),
            _row(
                "workers_cpu_ms_per_request",
                "7. Workers' CPU per request, 100 concurrent (seed)",
                "ms",
                eff["workers_cpu_ms_per_request"],
            ),
            _row("cpu_ms_seed", "7. Pipeline CPU per article, seed", "ms", cpu["seed"]),
            _row("cpu_ms_5000w", "7. Pipeline CPU per article, 5,000 words", "ms", cpu["5000w"]),
        ]
    if ov:
        rows.append(
            _row(
                "scaling_exponent",
                "6. Scaling exponent (time ~ words^k)",
                "",
                ov["scaling"]["exponent"],
                ("≤", 1.2),
            )
        )
        for words, stats in ov["scaling"]["ms"].items():
            rows.append(
                _row(f"overhead_ms_{words}w", f"6. Overhead, {int(words):,} words", "ms", stats)
            )
    return rows


def _fmt(value: float | int | None, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, int) or float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return text


def headline_table(result: dict[str, Any]) -> str:
    """The figures that have a target, as a short markdown table (for the README)."""
    lines = ["| Figure | Median (min–max) | Target | Met |", "|---|---|---|---|"]
    for row in result["figures"]:
        if "target" not in row or row["stats"] is None:
            continue
        s = row["stats"]
        unit = f" {row['unit']}" if row["unit"] else ""
        met = {True: "yes", False: "**no**"}.get(row.get("met"), "")
        spread = "" if s["n"] == 1 else f" ({_fmt(s['min'])}–{_fmt(s['max'])})"
        lines.append(
            f"| {row['figure']} | {_fmt(s['median'])}{unit}{spread} | {row['target']} | {met} |"
        )
    return "\n".join(lines) + "\n"


def markdown(result: dict[str, Any]) -> str:
    """The results as a markdown report: machine, the figure table, profiles."""
    m = result["machine"]
    lines = [
        "# FactDesk benchmark results",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['platform']}",
        f"- Python {m['python']}; commit `{m['commit']}`"
        + (" (working tree modified)" if m["working_tree_modified"] else ""),
        f"- Run at {m['utc']} (load average at start {m['load_average_at_start']}); "
        f"`make bench` took {result['duration_s']:.0f} s",
    ]
    for rerun in result.get("reruns", []):
        rm = rerun["machine"]
        lines.append(
            f"- Re-run with `--only {' --only '.join(rerun['sections'] or [])} --merge` at "
            f"{rm['utc']} (load average {rm['load_average_at_start']}, commit `{rm['commit']}`)"
            + (f": {rerun['note']}" if rerun.get("note") else "")
        )
    lines += [
        "",
        "| Figure | Median | Min | Max | n | Target | Met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in result["figures"]:
        s = row["stats"] or {}
        unit = f" {row['unit']}" if row["unit"] else ""
        met = {True: "yes", False: "**no**"}.get(row.get("met"), "")
        lines.append(
            f"| {row['figure']} | {_fmt(s.get('median'))}{unit} | {_fmt(s.get('min'))} | "
            f"{_fmt(s.get('max'))} | {s.get('n', '')} | {row.get('target', '')} | {met} |"
        )
    lm = result["sections"].get("local_model")
    if lm:
        raw = lm["raw_s"]
        spread = (raw["max"] - raw["min"]) / raw["median"] * 100
        lines += [
            "",
            f"End-to-end vs raw ({lm['e2e_s']['n']} pairs"
            + (", fewer than 5: the time budget ran out" if lm["e2e_s"]["n"] < 5 else "")
            + f"): identical raw calls vary by {spread:.0f}% (min to max) on this machine, "
            f"far more than FactDesk adds outside the model call "
            f"({lm['e2e_outside_model_ms']['median']} ms median), so the ratio's spread is "
            f"the model server's own variation. Same prompt and output tokens in every pair: "
            f"{lm['same_output']}; model calls per analysis: {lm['attempts']}.",
        ]
    ov = result["sections"].get("overhead")
    if ov:
        sc = ov["scaling"]
        lines += [
            "",
            "Scaling: local exponents between sizes "
            + ", ".join(f"{k} words: {v}" for k, v in sc["local_exponents"].items())
            + f"; ms per 1,000 words {sc['ms_per_1000_words']}.",
        ]
        for name in ("seed", "5000w"):
            st = ov["stages"][name]
            lines += [
                "",
                f"## Where the overhead goes: {name} ({st['runs']} runs, median "
                f"{st['total_ms']} ms, wall clock per function)",
                "",
                "Exclusive = the function's own time minus the timed functions it calls, so "
                "the exclusive column adds up to the total.",
                "",
                "| Function | exclusive ms | share | inclusive ms |",
                "|---|---:|---:|---:|",
            ]
            for f in st["functions"][:12]:
                lines.append(
                    f"| `{f['function']}` | {f['exclusive_ms']} | {f['share']:.0%} | "
                    f"{f['inclusive_ms']} |"
                )
            prof = ov["profile"][name]
            lines += [
                "",
                f"cProfile, {prof['runs']} runs: functions with the most own time "
                "(shares of the profiled time; `results/profile-" + name + ".txt` has the "
                "cumulative listing)",
                "",
                "| Function (own time) | share | calls/run |",
                "|---|---:|---:|",
            ]
            for f in prof["top_own_time"][:8]:
                lines.append(f"| `{f['function']}` | {f['share']:.0%} | {f['calls_per_run']:g} |")
    tp = result["sections"].get("throughput")
    if tp:
        lines += [
            "",
            f"## Throughput detail ({tp['article']}; fake model latency "
            f"{tp['model_latency_s']} s; transport retries 0)",
            "",
            "| Concurrency | req/s | efficiency | predicted from API CPU | API CPU ms/req | "
            "fake model CPU ms/req | clients CPU ms/req | model calls/req | failed |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for lv in tp["levels"]:
            lines.append(
                f"| {lv['concurrency']} | {lv['requests_per_s']['median']} | "
                f"{lv['efficiency']['median']} | {lv['efficiency_predicted_from_cpu']} | "
                f"{lv['api_cpu_ms_per_request']['median']} | "
                f"{lv['fake_model_cpu_ms_per_request']['median']} | "
                f"{lv['client_cpu_ms_per_request']['median']} | "
                f"{lv['model_calls_per_request']} | {lv['failed_requests']} |"
            )
        mc = tp["model_client_cpu"]
        lines += [
            "",
            "Predicted = 1 s ÷ (1 s + concurrency × API CPU per request): the API does each "
            "request's CPU work on one event loop and the clients move in step.",
            "",
            f"Model client CPU per call (in-process, zero-latency fake): litellm "
            f"{mc['litellm_client_cpu_ms_per_call']} ms, plain httpx "
            f"{mc['plain_httpx_cpu_ms_per_call']} ms.",
        ]
    sv = result["sections"].get("serving")
    if sv:
        eff, scale = sv["efficiency_100_5s"], sv["worker_scaling_2"]
        one_worker_cores = round(
            scale["requests_per_s_1_worker"]["median"]
            * scale["workers_cpu_ms_per_request_1_worker"]["median"]
            / 1000,
            2,
        )
        lines += [
            "",
            f"## Serving detail (`factdesk serve --workers N`, seed; load average at the end "
            f"of the section {sv['load_average_at_end']})",
            "",
            f"- 5 s model, 2 workers, {eff['concurrency']} concurrent x "
            f"{eff['requests_per_client']} requests, {eff['reps']} repetitions: efficiency "
            f"{eff['efficiency']['median']}, failed {eff['failed_requests']}, workers' CPU "
            f"{eff['workers_cpu_ms_per_request']['median']} ms/request; `/healthz` p99 "
            f"{eff['healthz_p99_ms']['median']} ms over {eff['healthz_probes']} probes.",
            f"- 1 s model, 100 concurrent: {scale['requests_per_s_1_worker']['median']} req/s "
            f"with 1 worker ({scale['workers_cpu_ms_per_request_1_worker']['median']} ms CPU "
            f"per request), {scale['requests_per_s_2_workers']['median']} req/s with 2 "
            f"({scale['workers_cpu_ms_per_request_2_workers']['median']} ms); ratio per "
            f"adjacent pair {scale['ratio']['median']} (min {scale['ratio']['min']}, max "
            f"{scale['ratio']['max']}).",
            *(
                [
                    f"- Harness CPU (the clients and the fake model) per request: "
                    f"{eff['harness_cpu_ms_per_request']['median']} ms at 5 s, "
                    f"{scale['harness_cpu_ms_per_request_1_worker']['median']} ms / "
                    f"{scale['harness_cpu_ms_per_request_2_workers']['median']} ms with 1 / 2 "
                    f"workers at 1 s; one worker keeps {one_worker_cores} cores busy."
                ]
                if "harness_cpu_ms_per_request" in eff
                else []
            ),
            f"- Learned components loaded for the CPU figures: "
            f"{', '.join(sv['pipeline_cpu_ms']['components']) or 'none yet'}.",
        ]
    if result.get("errors"):
        lines += ["", "## Errors", ""]
        lines += [f"- {name}: {err.splitlines()[-1]}" for name, err in result["errors"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the sections, write the results, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test)")
    parser.add_argument(
        "--only",
        action="append",
        choices=["overhead", "local_model", "throughput", "serving"],
        help="run only these sections (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--headline", action="store_true", help="print the headline table of OUT/latest.json"
    )
    parser.add_argument(
        "--local-budget-s",
        type=float,
        default=300.0,
        help="time budget of the local-model section (pairs stop when it runs out)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="with --only: keep the other sections of OUT/latest.json and re-run these",
    )
    args = parser.parse_args()
    if args.headline:
        print(headline_table(json.loads((args.out / "latest.json").read_text())), end="")
        return 0
    started = time.monotonic()
    info = machine()
    q = args.quick
    plan: dict[str, Callable[[], dict[str, Any]]] = {
        "overhead": lambda: overhead.run(
            runs=30 if q else 40, scaling_batches=2 if q else 5, scaling_runs=3 if q else 5
        ),
        "local_model": lambda: local_model.run(pairs=1 if q else 7, budget_s=args.local_budget_s),
        "throughput": lambda: throughput.run(quick=q),
        "serving": lambda: serving.run(quick=q),
    }
    sections: dict[str, Any] = {}
    errors: dict[str, str] = {}
    section_s: dict[str, float] = {}
    reruns: list[dict[str, Any]] = []
    previous = args.out / "latest.json"
    if args.merge and previous.is_file():
        # Re-run some sections, keep the others from the previous run (both are recorded).
        old = json.loads(previous.read_text())
        sections = {k: v for k, v in old["sections"].items() if k not in (args.only or [])}
        errors = {k: v for k, v in old["errors"].items() if k not in (args.only or [])}
        section_s = {k: v for k, v in old.get("section_s", {}).items() if k in sections}
        reruns = [*old.get("reruns", []), {"sections": args.only, "machine": info}]
        info = old["machine"]
    for name, fn in plan.items():
        if args.only and name not in args.only:
            continue
        t0 = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            sections[name] = fn()
        except Exception:
            errors[name] = traceback.format_exc()
            print(f"bench: {name} failed:\n{errors[name]}", file=sys.stderr)
        section_s[name] = round(time.monotonic() - t0, 1)
        print(f"bench: {name} took {section_s[name]:.0f} s", file=sys.stderr, flush=True)
    rows = figures(sections)
    result: dict[str, Any] = {
        row["key"]: row["stats"]["median"]
        for row in rows
        if (row.get("target") is not None or row["key"] in REPORTED) and row["stats"] is not None
    }
    result.update(
        {
            "machine": info,
            "duration_s": round(sum(section_s.values()), 1)
            if args.merge
            else round(time.monotonic() - started, 1),
            "section_s": section_s,
            "reruns": reruns,
            "quick": q,
            "figures": rows,
            "sections": sections,
            "errors": errors,
        }
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, prof in sections.get("overhead", {}).get("profile", {}).items():
        (args.out / f"profile-{name}.txt").write_text(prof.pop("cumulative_text", ""))
    (args.out / "latest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report = markdown(result)
    (args.out / "latest.md").write_text(report)
    print(report)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
