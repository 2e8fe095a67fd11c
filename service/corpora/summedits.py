"""Score the summary-consistency verdict on SummEdits, domain by domain.

The directory holds one JSONL file per domain (``DOMAIN.jsonl``), each line
``{id, domain?, article, summary, label}`` with ``label`` 1 when annotators found the
summary consistent with the document. Every summary is judged by
:func:`service.faithfulness.judge` (the product's verdict, and the rule checks alone
beside it); the positive class is *inconsistent*. Balanced accuracy is reported per
domain and macro-averaged over domains.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from service.corpora.frank import _macro, _rows, _Tally
from service.faithfulness import judge


def score(path: Path) -> dict[str, Any]:
    """Balanced accuracy per domain and macro-averaged, for the product's verdict and
    the rules-only verdict, on the SummEdits directory (or single JSONL file) at
    ``path``; plus mean milliseconds per summary. Raises ``ValueError`` on a malformed
    line or when there is no JSONL file. Times are CPU time."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise ValueError(f"{path}: no .jsonl files")
    verdict: dict[str, _Tally] = {}
    rules: dict[str, _Tally] = {}
    n = 0
    elapsed = 0.0
    for file in files:
        for row in _rows(file):
            domain = str(row.get("domain") or file.stem)
            consistent = int(row["label"]) == 1
            t0 = time.process_time()
            combined = judge(str(row["summary"]), str(row["article"]))
            elapsed += time.process_time() - t0
            n += 1
            verdict.setdefault(domain, _Tally()).add(not combined.faithful, consistent)
            alone = judge(str(row["summary"]), str(row["article"]), learned=False)
            rules.setdefault(domain, _Tally()).add(not alone.faithful, consistent)
    return {
        "balanced_accuracy": round(_macro(verdict), 4),
        "balanced_accuracy_by_domain": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(verdict.items())
        },
        "rules_balanced_accuracy": round(_macro(rules), 4),
        "rules_balanced_accuracy_by_domain": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(rules.items())
        },
        "ms_per_pair": round(1000 * elapsed / n, 2) if n else 0.0,
        "n_pairs": n,
    }


def format_table(result: dict[str, Any]) -> str:
    """A small plain-text table of a :func:`score` result."""
    rules: dict[str, float] = result["rules_balanced_accuracy_by_domain"]
    lines = [
        f"SummEdits consistency ({result['n_pairs']} pairs, "
        f"{float(result['ms_per_pair']):.1f} ms/pair)",
        f"{'balanced accuracy':<20}{'verifier':>9}{'rules':>9}",
    ]
    for name, value in result["balanced_accuracy_by_domain"].items():
        lines.append(f"{'  ' + name:<20}{value:>9.3f}{rules.get(name, 0.0):>9.3f}")
    lines.append(
        f"{'  macro average':<20}{float(result['balanced_accuracy']):>9.3f}"
        f"{float(result['rules_balanced_accuracy']):>9.3f}"
    )
    return "\n".join(lines)
