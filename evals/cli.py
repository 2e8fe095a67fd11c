"""``factdesk evals``: run the recorded suite (replay or record), compare two runs, and
write the baseline.

Exit codes of ``evals run``: 0 all good; 1 the baseline gate failed; 3 the model could
not be reached while recording; 4 cassettes no longer match the code (re-record).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from .dataset import DATASETS_DIR, load_cases, load_polnear
from .gate import BASELINE_PATH, check, load_baseline, make_baseline
from .report import (
    build_report,
    cases_table,
    compare_text,
    load_report,
    metrics_table,
    stale_message,
    write_report,
)
from .runner import CASSETTES_DIR, CaseResult, Mode, eval_settings, run_suite

EXIT_GATE = 1
EXIT_MODEL = 3
EXIT_STALE = 4
DEFAULT_REPORT_DIR = Path(__file__).resolve().parent / "reports/latest"
POLNEAR_DIR = Path(__file__).resolve().parents[2] / "shared/data/polnear"


class Progress:
    """A progress bar on stderr (one line per case when stderr is not a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 24) -> None:
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int, case_id: str, result: CaseResult | None) -> None:
        """Report that ``done`` of ``total`` cases are finished (``result`` is the last)."""
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        elapsed = time.monotonic() - self.t0
        if result is None:
            msg = f"[{bar}] {done}/{total} {case_id} ..."
        else:
            msg = (
                f"[{bar}] {done}/{total} {case_id}: {result.outcome} ({result.run_ms / 1000:.1f}s)"
            )
        msg += f"  {elapsed:.0f}s"
        if self.tty:
            self.stream.write(
                "\r\x1b[2K" + msg + ("\n" if result is not None and done == total else "")
            )
        elif result is not None:
            self.stream.write(msg + "\n")
        self.stream.flush()


def _listening(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


def _load(args: argparse.Namespace) -> list[Any]:
    cases = load_cases(Path(args.datasets), args.cases)
    if args.polnear:
        extra = load_polnear(Path(args.polnear_dir), "dev", args.polnear)
        if not extra:
            print(f"factdesk evals: no PolNeAR data under {args.polnear_dir}", file=sys.stderr)
        cases += extra
    return cases


def cmd_run(args: argparse.Namespace) -> int:
    """Run the suite, print the tables, write the report, gate on the baseline."""
    mode: Mode = "record" if args.record else "replay"
    try:
        cases = _load(args)
    except ValueError as exc:
        print(f"factdesk evals: {exc}", file=sys.stderr)
        return 2
    settings = eval_settings(args.model, mode)
    with ExitStack() as stack:
        if mode == "record" and settings.is_local():
            if _listening(settings.local_model_host, settings.local_model_port):
                # A busy llama.cpp server does not answer /v1/models until its current
                # generation ends; something listening on the port is reused as is.
                print(f"Reusing the model server on {settings.local_api_base}", file=sys.stderr)
            else:
                from service import localmodel

                try:
                    stack.enter_context(localmodel.start(settings))
                except localmodel.LocalModelError as exc:
                    print(f"factdesk evals: cannot start the local model: {exc}", file=sys.stderr)
                    return EXIT_MODEL
        print(
            f"{'Recording' if mode == 'record' else 'Replaying'} {len(cases)} case(s) with "
            f"{settings.model}",
            file=sys.stderr,
        )
        result = run_suite(
            cases, settings, mode=mode, cassettes=Path(args.cassettes), progress=Progress()
        )
    report = build_report(result)
    json_path, html_path = write_report(report, Path(args.report))
    baseline_path = Path(args.baseline)
    baseline = load_baseline(baseline_path)
    if baseline is not None and baseline.get("model") != report["model"]:
        baseline = None
    print(metrics_table(report, baseline))
    print()
    print(cases_table(report))
    print()
    print(f"report: {json_path} and {html_path} ({result.wall_s:.1f}s)")
    code = 0
    if mode == "record":
        unreached = [
            c for c in report["cases"] if c["outcome"] in ("model-unavailable", "model-timeout")
        ]
        if unreached:
            print(
                "factdesk evals: not recorded (the model was not reached): "
                + ", ".join(c["id"] for c in unreached),
                file=sys.stderr,
            )
            return EXIT_MODEL
    if report["stale_cases"]:
        print("factdesk evals: " + stale_message(report), file=sys.stderr)
        for case in report["cases"]:
            if case["id"] in report["stale_cases"] and case.get("detail"):
                print(f"  {case['id']}: {case['detail'].splitlines()[0]}", file=sys.stderr)
        return EXIT_STALE
    if args.update_baseline:
        new = make_baseline(report, load_baseline(baseline_path))
        baseline_path.write_text(json.dumps(new, indent=1, sort_keys=False) + "\n", "utf-8")
        print(f"baseline written: {baseline_path}")
        return 0
    if mode == "replay" and not args.no_gate:
        if baseline is None:
            print(
                f"factdesk evals: no baseline for {report['model']} in {baseline_path}; not gated",
                file=sys.stderr,
            )
        else:
            failures = check(report, baseline)
            if failures:
                print(
                    f"factdesk evals: {len(failures)} metric(s) below the baseline "
                    f"({baseline_path}):",
                    file=sys.stderr,
                )
                for f in failures:
                    print(f"  {f.message()}", file=sys.stderr)
                code = EXIT_GATE
            else:
                print(f"baseline gate passed ({baseline_path})")
    return code


def cmd_compare(args: argparse.Namespace) -> int:
    """Print two reports side by side."""
    try:
        a, b = load_report(Path(args.a)), load_report(Path(args.b))
    except (OSError, ValueError) as exc:
        print(f"factdesk evals: {exc}", file=sys.stderr)
        return 2
    print(compare_text(a, b))
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    """Write the baseline from an existing report."""
    try:
        report = load_report(Path(args.report))
    except (OSError, ValueError) as exc:
        print(f"factdesk evals: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    new = make_baseline(report, load_baseline(out))
    out.write_text(json.dumps(new, indent=1) + "\n", encoding="utf-8")
    print(f"baseline written: {out}")
    return 0


def register(sub: Any) -> None:
    """Add the ``evals`` command (``run``, ``compare``, ``baseline``) to the ``factdesk``
    sub-command parser ``sub``."""
    ev = sub.add_parser("evals", help="recorded eval suite: run, compare, baseline")
    evsub = ev.add_subparsers(dest="evals_command", required=True)

    run = evsub.add_parser(
        "run", help="replay the suite offline (default) or re-record it against a live model"
    )
    run.add_argument("--model", help="litellm model string (default: FACTDESK_MODEL)")
    run.add_argument("--record", action="store_true", help="re-record against the live model")
    run.add_argument("--cases", default="*", help="glob(s) of case ids, comma-separated")
    run.add_argument("--report", default=str(DEFAULT_REPORT_DIR), help="report directory")
    run.add_argument("--baseline", default=str(BASELINE_PATH), help="baseline file")
    run.add_argument("--no-gate", action="store_true", help="do not gate on the baseline")
    run.add_argument(
        "--update-baseline", action="store_true", help="write the baseline from this run"
    )
    run.add_argument("--datasets", default=str(DATASETS_DIR), help=argparse.SUPPRESS)
    run.add_argument("--cassettes", default=str(CASSETTES_DIR), help=argparse.SUPPRESS)
    run.add_argument(
        "--polnear",
        type=int,
        default=0,
        metavar="N",
        help="also run N PolNeAR dev articles (needs cassettes or --record)",
    )
    run.add_argument("--polnear-dir", default=str(POLNEAR_DIR), help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)

    cmp = evsub.add_parser("compare", help="two runs side by side (report.json or its dir)")
    cmp.add_argument("a")
    cmp.add_argument("b")
    cmp.set_defaults(func=cmd_compare)

    bl = evsub.add_parser("baseline", help="write the baseline from a report")
    bl.add_argument("report")
    bl.add_argument("--out", default=str(BASELINE_PATH))
    bl.set_defaults(func=cmd_baseline)
