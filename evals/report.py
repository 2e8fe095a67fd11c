"""Run reports: ``report.json`` (everything a later comparison needs), a self-contained
``report.html`` (per case: the article with claims, quotes and flags highlighted at the
response's offsets, and how each gold item fared) and plain-text tables."""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from service.settings import LOCAL_MODEL

from .metrics import FLAG_TYPES, SPEC_BY_NAME, SPECS, aggregate, values
from .runner import SuiteResult, rerecord_command

REPORT_FORMAT = "factdesk-evals/1"

#: Highlight colours of the HTML report (the screenshot test looks for them).
CLAIM_RGB = (255, 224, 102)
FLAG_RGB: Mapping[str, tuple[int, int, int]] = {
    "hedge": (196, 181, 253),
    "estimate": (147, 197, 253),
    "conflicting_figures": (252, 129, 129),
    "anonymous_source": (253, 186, 116),
    "second_hand": (134, 239, 172),
    "unverified": (249, 168, 212),
}


# ----------------------------------------------------------------------------- JSON


def build_report(result: SuiteResult) -> dict[str, Any]:
    """The JSON report of a run: suite metrics, and per case its outcome, metrics (with
    counts), gold matching, article text and full response."""
    total = aggregate(c.score.metrics for c in result.cases)
    cases = []
    for c in result.cases:
        s = c.score
        cases.append(
            {
                "id": c.case.id,
                "title": c.case.title,
                "description": c.case.description,
                "expected": c.case.gold.expect,
                "outcome": c.outcome,
                "detail": c.detail,
                "cassette": c.cassette,
                "recorded_at": c.recorded_at,
                "attempts": c.attempts,
                "latency_ms": c.latency_ms,
                "run_ms": c.run_ms,
                "metrics": values(s.metrics),
                "counts": {k: [r.num, r.den] for k, r in s.metrics.items()},
                "gold": {
                    "claims": [asdict(m) for m in s.claims],
                    "flags": [asdict(m) for m in s.flags],
                    "conflicts": [asdict(m) for m in s.conflicts],
                    "must_carry": [{"terms": t, "carried": ok} for t, ok in s.must_carry],
                    "violations": [asdict(v) for v in s.violations],
                    "unmatched_claims": s.unmatched_claims,
                    "unmatched_flags": s.unmatched_flags,
                },
                "text": c.case.text,
                "response": c.response.model_dump(mode="json") if c.response else None,
            }
        )
    return {
        "format": REPORT_FORMAT,
        "model": result.model,
        "mode": result.mode,
        "started_at": result.started_at,
        "prompt_version": result.prompt_version,
        "prompt_sha256": result.prompt_sha256,
        "wall_s": result.wall_s,
        "stale_cases": [c.case.id for c in result.stale],
        "metrics": values(total),
        "counts": {k: [r.num, r.den] for k, r in total.items()},
        "cases": cases,
    }


def write_report(report: Mapping[str, Any], directory: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "report.json"
    html_path = directory / "report.html"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


def load_report(path: Path) -> dict[str, Any]:
    """A report written by :func:`write_report` (``report.json`` or its directory)."""
    if path.is_dir():
        path = path / "report.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path} is not a FactDesk eval report")
    return data


# ----------------------------------------------------------------------------- text


def fmt(name: str, value: float | None) -> str:
    """A metric value as a person reads it (``-`` when not applicable)."""
    if value is None:
        return "-"
    spec = SPEC_BY_NAME.get(name)
    if name == "cost_usd":
        return f"${value:.4f}"
    if spec is not None and spec.kind == "rate":
        return f"{value:.3f}"
    if name == "attempts":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right."""
    rows = [list(r) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        out = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def _delta(name: str, value: float | None, base: float | None) -> str:
    if value is None or base is None:
        return ""
    d = value - base
    if abs(d) < 1e-9:
        return "="
    spec = SPEC_BY_NAME.get(name)
    better = (d > 0) == (spec is None or spec.direction != "lower")
    mark = "" if spec is None or spec.direction == "info" else (" +" if better else " !")
    if spec is not None and spec.kind == "rate":
        return f"{d:+.3f}{mark}"
    if name == "cost_usd":
        return f"{d:+.4f}"
    return f"{d:+.2f}{mark}" if name == "attempts" else f"{d:+,.0f}{mark}"


def metrics_table(report: Mapping[str, Any], baseline: Mapping[str, Any] | None = None) -> str:
    """Suite metrics: value, how many items it counts, and the baseline with the change."""
    headers = ["metric", "value", "n"]
    if baseline:
        headers += ["baseline", "change"]
    rows = []
    base_metrics = (baseline or {}).get("metrics", {})
    for spec in SPECS:
        value = report["metrics"].get(spec.name)
        num, den = report["counts"].get(spec.name, [0, 0])
        if den == 0 and spec.name.startswith("flag_") and "." in spec.name:
            continue
        n = f"{int(num)}/{int(den)}" if spec.kind == "rate" and den else str(int(den) or "")
        row = [spec.name, fmt(spec.name, value), n]
        if baseline:
            base = base_metrics.get(spec.name, {}).get("value")
            row += [
                fmt(spec.name, base) if base is not None else "",
                _delta(spec.name, value, base),
            ]
        rows.append(row)
    return table(headers, rows)


_CASE_COLUMNS = (
    "claim_recall",
    "claim_precision",
    "speaker_accuracy",
    "flag_recall",
    "flag_precision",
    "conflict_recall",
    "summary_support_rate",
    "must_carry_coverage",
    "must_not_violations",
)
_SHORT = {
    "claim_recall": "cl.rec",
    "claim_precision": "cl.prec",
    "speaker_accuracy": "speaker",
    "flag_recall": "fl.rec",
    "flag_precision": "fl.prec",
    "conflict_recall": "confl",
    "summary_support_rate": "sum.sup",
    "must_carry_coverage": "carry",
    "must_not_violations": "viol",
}


def cases_table(report: Mapping[str, Any]) -> str:
    """One line per case: outcome and its main metrics."""
    rows = []
    for case in report["cases"]:
        outcome = case["outcome"] + ("" if case["outcome"] == case["expected"] else " (!)")
        rows.append(
            [case["id"], outcome]
            + [fmt(m, case["metrics"].get(m)) for m in _CASE_COLUMNS]
            + [fmt("latency_ms", case.get("latency_ms"))]
        )
    return table(["case", "outcome", *(_SHORT[m] for m in _CASE_COLUMNS), "ms"], rows)


def compare_text(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """Two runs side by side: header, suite metrics, then every case metric that differs
    (outcomes always shown)."""

    def label(r: Mapping[str, Any]) -> str:
        return f"{r['model']} · {r.get('prompt_version')} · {(r.get('prompt_sha256') or '')[:8]}"

    out = [f"A: {label(a)} ({a['mode']}, {a['started_at']})"]
    out.append(f"B: {label(b)} ({b['mode']}, {b['started_at']})")
    out.append("")
    rows = []
    for spec in SPECS:
        va, vb = a["metrics"].get(spec.name), b["metrics"].get(spec.name)
        if va is None and vb is None:
            continue
        rows.append([spec.name, fmt(spec.name, va), fmt(spec.name, vb), _delta(spec.name, vb, va)])
    out.append(table(["metric", "A", "B", "B-A"], rows))
    out.append("")
    a_cases = {c["id"]: c for c in a["cases"]}
    b_cases = {c["id"]: c for c in b["cases"]}
    rows = []
    for cid in sorted(set(a_cases) | set(b_cases)):
        ca, cb = a_cases.get(cid), b_cases.get(cid)
        oa = ca["outcome"] if ca else "(absent)"
        ob = cb["outcome"] if cb else "(absent)"
        rows.append([cid, "outcome", oa, ob, "" if oa == ob else "changed"])
        if ca is None or cb is None:
            continue
        for spec in SPECS:
            if spec.direction == "info":
                continue
            va, vb = ca["metrics"].get(spec.name), cb["metrics"].get(spec.name)
            if va != vb:
                rows.append(
                    [
                        "",
                        spec.name,
                        fmt(spec.name, va),
                        fmt(spec.name, vb),
                        _delta(spec.name, vb, va),
                    ]
                )
    out.append(table(["case", "metric", "A", "B", "B-A"], rows, left=2))
    return "\n".join(out)


def stale_message(report: Mapping[str, Any]) -> str:
    """What to do when cassettes no longer match the code."""
    cases = report.get("stale_cases") or []
    model = str(report.get("model"))
    how = f"`{rerecord_command(model)}` (needs the {'local ' if model == LOCAL_MODEL else ''}model"
    return (
        f"{len(cases)} case(s) could not replay: the recorded requests no longer match "
        f"what the code sends (prompt, schema, settings or segmentation changed), or were "
        f"never recorded: {', '.join(cases)}.\nRe-record them with {how}; review the new "
        "baseline before committing)."
    )


# ----------------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;
 color:#1f2933;background:#fafafa}
header{background:#1f2933;color:#fff;padding:14px 24px}
header h1{font-size:20px;margin:0}
header p{margin:4px 0 0;color:#cbd2d9;font-size:13px}
main{padding:8px 24px 40px;max-width:1200px}
h2{font-size:18px;margin:28px 0 6px;border-bottom:2px solid #d9e2ec;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 4px;text-transform:uppercase;letter-spacing:.04em;color:#52606d}
table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #d9e2ec;padding:3px 8px;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}
th{background:#f0f4f8;text-align:left}
td.l{text-align:left}
.ok{color:#0b7a3e;font-weight:600}.bad{color:#c81e1e;font-weight:600}.na{color:#9aa5b1}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.b-ok{background:#d1fae5;color:#065f46}.b-bad{background:#fee2e2;color:#991b1b}
.b-part{background:#fef3c7;color:#92400e}
.legend{font-size:12px;color:#52606d}
.sw{display:inline-block;width:11px;height:11px;margin:0 4px 0 12px;border-radius:2px;
 vertical-align:-1px;border:1px solid #cbd2d9}
.sw.q,.sw.rj,.sw.miss,.sw.rm{width:auto;height:auto;border:0;margin-left:12px}
.article{background:#fff;border:1px solid #d9e2ec;border-radius:6px;padding:14px 18px;
 white-space:pre-wrap;
 font:16px/1.7 Georgia,'Times New Roman',serif;max-width:900px}
.sid{font:10px/1 system-ui,sans-serif;color:#7b8794;vertical-align:super;margin-right:2px}
.ev{background:rgb(255,224,102)}
.q{border-bottom:3px solid #b45309;font-style:italic}
.rj{text-decoration:underline dotted #9aa5b1 2px}
.miss{text-decoration:underline dashed #c81e1e 2px}
.rm{color:#9aa5b1;text-decoration:line-through}
FLAGCSS
.caseindex a{margin-right:10px}
.detail{font-size:13px;color:#52606d;white-space:pre-wrap}
ul{margin:4px 0 4px 18px;padding:0}li{margin:2px 0}
"""


def _flag_css() -> str:
    return "\n".join(f".fl-{t}{{background:rgb{rgb}}}" for t, rgb in FLAG_RGB.items())


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _speaker_text(speaker: Mapping[str, Any]) -> str:
    """The speaker as written, with the name it resolves to ("he → Gen. Joseph Votel")."""
    name = speaker.get("name") or ""
    resolved = speaker.get("resolved")
    return f"{name} → {resolved}" if resolved and resolved != name else name


def _marks(case: Mapping[str, Any]) -> list[tuple[int, int, str, str]]:
    """``(start, end, css class, tooltip)`` of everything to highlight in the article."""
    marks: list[tuple[int, int, str, str]] = []
    resp = case.get("response")
    if resp:
        for claim in resp["claims"]:
            who = _speaker_text(claim["speaker"]) or claim["speaker"]["type"]
            tip = f"{claim['id']} ({who}): {claim['text']}"
            for e in claim["evidence"]:
                marks.append((e["start"], e["end"], "ev", tip))
            if claim.get("quote"):
                q = claim["quote"]
                marks.append((q["start"], q["end"], "q", f"quote of {claim['id']}"))
        for rej in resp["rejected_claims"]:
            for e in rej.get("evidence", []):
                marks.append((e["start"], e["end"], "rj", f"rejected {rej['id']}: {rej['text']}"))
        for flag in resp["flags"]:
            if flag.get("span"):
                s = flag["span"]
                marks.append(
                    (
                        s["start"],
                        s["end"],
                        f"fl fl-{flag['type']}",
                        f"{flag['id']} {flag['type']}: {flag['message']}",
                    )
                )
        for removed in resp.get("removed", []):
            s = removed["span"]
            marks.append((s["start"], s["end"], "rm", f"left out: {removed['kind']}"))
    for m in case["gold"]["claims"]:
        if m["required"] and not m["found_by"]:
            marks.append((m["span"][0], m["span"][1], "miss", "gold claim not found"))
    return marks


def render_article(case: Mapping[str, Any]) -> str:
    """The article as HTML with every mark applied; overlapping marks nest by segment,
    a flag's colour showing over claim evidence. Sentence ids are shown as superscripts."""
    text: str = case["text"]
    marks = _marks(case)
    starts: dict[int, str] = {}
    resp = case.get("response")
    if resp:
        starts = {s["start"]: s["id"] for s in resp["sentences"]}
    cuts = sorted({0, len(text), *starts, *(m[0] for m in marks), *(m[1] for m in marks)})
    out: list[str] = []
    for a, b in itertools.pairwise(cuts):
        if a in starts:
            out.append(f'<span class="sid">{starts[a]}</span>')
        if a >= b:
            continue
        active = [m for m in marks if m[0] <= a and b <= m[1]]
        chunk = _esc(text[a:b])
        if not active:
            out.append(chunk)
            continue
        classes = " ".join(dict.fromkeys(c for m in active for c in m[2].split()))
        tips = " | ".join(dict.fromkeys(m[3] for m in active))
        out.append(f'<span class="{classes}" title="{_esc(tips)}">{chunk}</span>')
    return '<div class="article">' + "".join(out) + "</div>"


def _verdict(status: str) -> str:
    cls = {"supported": "b-ok", "partially_supported": "b-part"}.get(status, "b-bad")
    return f'<span class="badge {cls}">{_esc(status.replace("_", " "))}</span>'


def _yes(ok: bool) -> str:
    return '<span class="ok">yes</span>' if ok else '<span class="bad">no</span>'


def _case_html(case: Mapping[str, Any]) -> str:
    cid = _esc(case["id"])
    good = case["outcome"] == case["expected"]
    badge = "b-ok" if good else "b-bad"
    parts = [f'<h2 id="case-{cid}">{cid}: {_esc(case.get("title") or "")}</h2>']
    parts.append(
        f'<p><span class="badge {badge}">{_esc(case["outcome"])}</span> expected '
        f"<b>{_esc(case['expected'])}</b> · {_esc(case.get('description') or '')}</p>"
    )
    recorded = case.get("recorded_at")
    latency = case.get("latency_ms")
    if recorded or latency:
        parts.append(
            f'<p class="detail">recorded {_esc(recorded or "?")}'
            + (f" · {latency / 1000:.1f} s" if latency else "")
            + (f" · {case['attempts']} model call(s)" if case.get("attempts") else "")
            + "</p>"
        )
    if case.get("detail"):
        parts.append(f'<p class="detail">{_esc(case["detail"])}</p>')
    parts.append(render_article(case))
    m = case["metrics"]
    names = [n for n in _CASE_COLUMNS if m.get(n) is not None]
    if names:
        parts.append(
            "<table><tr>"
            + "".join(f"<th>{_esc(n)}</th>" for n in names)
            + "</tr><tr>"
            + "".join(f"<td>{fmt(n, m[n])}</td>" for n in names)
            + "</tr></table>"
        )
    resp = case.get("response")
    if resp:
        parts.append("<h3>Summary</h3><ul>")
        for s in resp["summary"]:
            parts.append(
                f"<li>{_esc(s['text'])} <small>[{_esc(', '.join(s['sentences']))}]"
                f"{' article sentence' if s.get('origin') == 'rules' else ''}</small> "
                f"{_verdict(s['verification']['status'])}</li>"
            )
        for s in resp.get("rejected_summary", []):
            why = "; ".join(r["message"] for r in s["verification"]["reasons"])
            parts.append(f"<li><del>{_esc(s['text'])}</del> <small>{_esc(why)}</small></li>")
        parts.append("</ul>")
        parts.append(
            "<h3>Claims</h3><table><tr><th>id</th><th>claim</th><th>speaker</th><th>type</th>"
            "<th>cue</th><th>origin</th><th>verdict</th></tr>"
        )
        for c in resp["claims"]:
            parts.append(
                f"<tr><td>{_esc(c['id'])}</td><td class=l>"
                f"{'<b>NOT:</b> ' if c.get('polarity') == 'negated' else ''}{_esc(c['text'])}</td>"
                f"<td class=l>{_esc(_speaker_text(c['speaker']))}</td>"
                f"<td class=l>{_esc(c['speaker']['type'])}</td>"
                f"<td class=l>{_esc(c.get('cue') or '')}</td>"
                f"<td class=l>{_esc(c.get('origin', ''))}</td>"
                f"<td class=l>{_verdict(c['verification']['status'])}</td></tr>"
            )
        parts.append("</table>")
        if resp["rejected_claims"]:
            parts.append("<h3>Rejected claims</h3><ul>")
            for r in resp["rejected_claims"]:
                why = "; ".join(x["message"] for x in r["reasons"])
                parts.append(f"<li><s>{_esc(r['text'])}</s> — {_esc(why)}</li>")
            parts.append("</ul>")
        parts.append("<h3>Flags</h3><ul>")
        for f in resp["flags"]:
            span = f"“{_esc(f['span']['text'])}”" if f.get("span") else ""
            parts.append(
                f'<li><span class="sw fl-{_esc(f["type"])}"></span><b>{_esc(f["type"])}</b> '
                f"{span} "
                f"<small>[{_esc(', '.join(f['sentence_ids']))}] {_esc(f.get('origin', ''))}"
                "</small></li>"
            )
        parts.append("</ul>")
        if resp["meta"]["warnings"]:
            parts.append("<h3>Warnings</h3><ul>")
            parts += [f"<li>{_esc(w)}</li>" for w in resp["meta"]["warnings"]]
            parts.append("</ul>")
    gold = case["gold"]
    parts.append(
        "<h3>Gold</h3><table><tr><th>kind</th><th>expected</th><th>found</th>"
        "<th>by</th><th>speaker ok</th></tr>"
    )
    for g in gold["claims"]:
        if not g["required"]:
            continue
        parts.append(
            f"<tr><td>claim</td><td class=l>{_esc(g['evidence'])}</td><td>"
            f"{_yes(bool(g['found_by']))}</td><td>{_esc(', '.join(g['found_by']))}</td><td>"
            f"{_yes(g['speaker_ok']) if g['found_by'] else ''}</td></tr>"
        )
    for g in gold["flags"]:
        if not g["required"]:
            continue
        parts.append(
            f"<tr><td>{_esc(g['type'])}</td><td class=l>{_esc(g['evidence'])}</td><td>"
            f"{_yes(bool(g['found_by']))}</td><td>{_esc(', '.join(g['found_by']))}</td>"
            "<td></td></tr>"
        )
    for g in gold["conflicts"]:
        parts.append(
            f"<tr><td>conflict</td><td class=l>{_esc(g['quantity'])}: "
            f"{_esc(' / '.join(g['figures']))}</td><td>{_yes(bool(g['found_by']))}</td>"
            f"<td>{_esc(', '.join(g['found_by']))}</td><td></td></tr>"
        )
    for g in gold["must_carry"]:
        parts.append(
            f"<tr><td>summary carries</td><td class=l>{_esc(' + '.join(g['terms']))}</td>"
            f"<td>{_yes(g['carried'])}</td><td></td><td></td></tr>"
        )
    parts.append("</table>")
    if gold["violations"]:
        parts.append("<h3>Must-not violations</h3><ul>")
        for v in gold["violations"]:
            parts.append(
                f'<li class="bad">{_esc(v["where"])}: {_esc(v["text"])} — {_esc(v["why"])}</li>'
            )
        parts.append("</ul>")
    return "\n".join(parts)


def _legend() -> str:
    items = ['<span class="sw ev"></span>claim evidence', '<span class="sw q">direct quote</span>']
    items += [f'<span class="sw fl-{t}"></span>{t.replace("_", " ")}' for t in FLAG_TYPES]
    items += [
        '<span class="sw rj">rejected claim</span>',
        '<span class="sw miss">gold claim missed</span>',
        '<span class="sw rm">repeat left out</span>',
    ]
    return '<p class="legend">' + "".join(items) + "</p>"


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained HTML page (inline CSS, no scripts, no external resources)."""
    title = f"FactDesk evals · {report['model']} · {report.get('prompt_version') or ''}"
    head = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_esc(title)}</title>"
        f"<style>{_CSS.replace('FLAGCSS', _flag_css())}</style></head><body>"
        f"<header><h1>{_esc(title)}</h1><p>{_esc(report['mode'])} run of "
        f"{len(report['cases'])} case(s), {_esc(report['started_at'])}, prompt sha256 "
        f"{_esc((report.get('prompt_sha256') or '')[:12])}</p></header><main>"
    )
    body = [_legend()]
    if report.get("stale_cases"):
        body.append(f'<p class="bad">{_esc(stale_message(report))}</p>')
    if len(report["cases"]) > 1:
        rows = []
        for spec in SPECS:
            v = report["metrics"].get(spec.name)
            if v is None:
                continue
            num, den = report["counts"][spec.name]
            n = f"{int(num)}/{int(den)}" if spec.kind == "rate" else ""
            rows.append(
                f"<tr><td>{_esc(spec.name)}</td><td>{fmt(spec.name, v)}</td><td>{n}</td></tr>"
            )
        body.append(
            "<h2>Suite</h2><table><tr><th>metric</th><th>value</th><th>n</th></tr>"
            + "".join(rows)
            + "</table>"
        )
        body.append(
            '<p class="caseindex">'
            + "".join(
                f'<a href="#case-{_esc(c["id"])}">{_esc(c["id"])}</a>' for c in report["cases"]
            )
            + "</p>"
        )
    body += [_case_html(c) for c in report["cases"]]
    return head + "\n".join(body) + "</main></body></html>\n"
