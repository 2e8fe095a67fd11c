"""Reports built from hand-made runs: JSON content, highlighted HTML, text tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

from evals.metrics import score_case
from evals.report import (
    build_report,
    cases_table,
    compare_text,
    load_report,
    metrics_table,
    render_article,
    write_report,
)
from evals.runner import CaseResult, SuiteResult
from tests.evals._build import GOLD_TEXT_CASE, claim, flag, response, summary


def _suite() -> SuiteResult:
    case = GOLD_TEXT_CASE
    resp = response(
        claims=[claim("C1", "The Red Cross said 35 people died.", "The Red Cross", "organization")],
        flags=[flag("F1", "hedge", "may", ["S3"])],
        summary_=[summary("The Red Cross said 35 people died.")],
    )
    score = score_case(case, resp, outcome="ok", latency_ms=1200.0)
    result = CaseResult(case, "ok", None, resp, score, 1, 1200.0, 5.0, "x.yaml")
    return SuiteResult("openai/local", "replay", [result], "2026-01-01T00:00:00+00:00")


def test_the_json_report_carries_metrics_matching_text_and_response(tmp_path: Path) -> None:
    report = build_report(_suite())
    (case,) = report["cases"]
    assert report["metrics"]["claim_recall"] == 0.5
    assert report["counts"]["claim_recall"] == [1, 2]
    assert case["gold"]["claims"][1]["found_by"] == ["C1"]
    assert case["response"]["claims"][0]["id"] == "C1"
    json_path, html_path = write_report(report, tmp_path / "r")
    assert load_report(tmp_path / "r") == json.loads(json_path.read_text(encoding="utf-8"))
    assert html_path.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_the_article_is_highlighted_at_the_response_offsets() -> None:
    report = build_report(_suite())
    html = render_article(report["cases"][0])
    evidence = re.findall(r'<span class="ev"[^>]*>([^<]*)</span>', html)
    assert "".join(evidence) == "The Red Cross said 35 people died."
    assert re.search(r'<span class="fl fl-hedge"[^>]*>may</span>', html)
    # the gold claim nobody found is marked as missed
    assert re.search(r'<span class="miss"[^>]*>20 people died</span>', html)
    # sentence ids precede their sentences
    assert '<span class="sid">S2</span>' in html


def test_article_text_is_escaped() -> None:
    report = build_report(_suite())
    case = dict(report["cases"][0])
    case["text"] = "<b>" + case["text"][3:]
    html = render_article(case)
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_tables_and_comparison_read_as_text() -> None:
    report = build_report(_suite())
    table = metrics_table(report)
    assert re.search(r"claim_recall\s+0\.500\s+1/2", table)
    assert "t " in cases_table(report)
    worse = json.loads(json.dumps(report))
    worse["metrics"]["claim_recall"] = 0.0
    worse["cases"][0]["metrics"]["claim_recall"] = 0.0
    text = compare_text(report, worse)
    assert re.search(r"claim_recall\s+0\.500\s+0\.000\s+-0\.500 !", text)
