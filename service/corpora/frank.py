"""Score the summary-faithfulness verifier on FRANK (JSONL).

Each line is ``{article, summary, label, dataset?}`` with ``label`` 1 when annotators
found no factual error. :func:`service.faithfulness.judge` classifies each summary with
the product's verdict (rule checks plus the learned consistency scorer); the positive
class is *unfaithful* (some sentence not ``supported``). Reported alongside: the *rules*
row (the same judge with the rule checks alone) and the *lenient* variant of it, which
calls a summary unfaithful only when some sentence is ``unsupported``. Balanced
accuracy is computed per ``dataset`` and macro-averaged (a check that only tells
extractive from abstractive summaries apart looks good pooled, not per dataset). For
comparison the result also carries a plain unigram-overlap baseline (share of the
summary's content words found in the article, one threshold for all datasets).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.faithfulness import judge
from service.support import content_words

# The threshold of the overlap baseline: a coarse choice, the same for every dataset.
BASELINE_THRESHOLD = 0.9
# Out-of-vocabulary placeholders and bracket tokens of the summarisation systems FRANK
# judged: artefacts of their vocabularies, not words of the summary.
_ARTEFACTS = re.compile(r"\bUNK\b|<unk>|-[lr][rsc]b-", re.I)


def clean_summary(summary: str) -> str:
    """``summary`` without the systems' out-of-vocabulary and bracket tokens."""
    return re.sub(r"\s{2,}", " ", _ARTEFACTS.sub(" ", summary)).strip()


def overlap(summary: str, article: str) -> float:
    """Share of the summary's content words that occur in the article (1.0 when the
    summary has none)."""
    words = content_words(summary)
    return len(words & content_words(article)) / len(words) if words else 1.0


@dataclass
class _Tally:
    """Counts with *unfaithful* as the positive class."""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, predicted_unfaithful: bool, faithful: bool) -> None:
        if predicted_unfaithful:
            if faithful:
                self.fp += 1
            else:
                self.tp += 1
        elif faithful:
            self.tn += 1
        else:
            self.fn += 1

    def balanced_accuracy(self) -> float:
        rates = [
            self.tp / (self.tp + self.fn) if self.tp + self.fn else None,
            self.tn / (self.tn + self.fp) if self.tn + self.fp else None,
        ]
        known = [r for r in rates if r is not None]
        return sum(known) / len(known) if known else 0.0


@dataclass
class _Run:
    verifier: dict[str, _Tally] = field(default_factory=dict)
    rules: dict[str, _Tally] = field(default_factory=dict)
    lenient: dict[str, _Tally] = field(default_factory=dict)
    baseline: dict[str, _Tally] = field(default_factory=dict)
    pooled: _Tally = field(default_factory=_Tally)


def _rows(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or not {"article", "summary", "label"} <= row.keys():
                raise ValueError(f"{path}:{n}: needs article, summary and label")
            yield row


def _macro(tallies: dict[str, _Tally]) -> float:
    values = [t.balanced_accuracy() for t in tallies.values()]
    return sum(values) / len(values) if values else 0.0


def score(path: Path) -> dict[str, Any]:
    """Balanced accuracy (per dataset and macro-averaged), precision and recall on
    unfaithful summaries, and mean CPU milliseconds per pair and per summary sentence of
    the verifier on the FRANK JSONL file at ``path``; plus the rules-only verdict's, its
    lenient variant's and the overlap baseline's balanced accuracy per dataset.
    Rows without ``dataset`` count as one dataset, ``all``. Deterministic except for the
    timing. Raises ``ValueError`` on a malformed line."""
    run = _Run()
    n = pairs = 0
    elapsed = 0.0
    for row in _rows(path):
        article, summary = str(row["article"]), clean_summary(str(row["summary"]))
        faithful = int(row["label"]) == 1
        dataset = str(row.get("dataset") or "all")
        # CPU time, the budget's unit: wall time on a shared machine measures the neighbours
        t0 = time.process_time()
        verdict = judge(summary, article)
        elapsed += time.process_time() - t0
        pairs += len(verdict.sentences)
        n += 1
        run.verifier.setdefault(dataset, _Tally()).add(not verdict.faithful, faithful)
        run.pooled.add(not verdict.faithful, faithful)
        rules = judge(summary, article, learned=False)
        run.rules.setdefault(dataset, _Tally()).add(not rules.faithful, faithful)
        run.lenient.setdefault(dataset, _Tally()).add(rules.status == "unsupported", faithful)
        run.baseline.setdefault(dataset, _Tally()).add(
            overlap(summary, article) < BASELINE_THRESHOLD, faithful
        )
    p = run.pooled
    return {
        "balanced_accuracy": round(_macro(run.verifier), 4),
        "balanced_accuracy_by_dataset": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(run.verifier.items())
        },
        "unfaithful_precision": round(p.tp / (p.tp + p.fp), 4) if p.tp + p.fp else 0.0,
        "unfaithful_recall": round(p.tp / (p.tp + p.fn), 4) if p.tp + p.fn else 0.0,
        "ms_per_pair": round(1000 * elapsed / n, 2) if n else 0.0,
        "ms_per_sentence": round(1000 * elapsed / pairs, 2) if pairs else 0.0,
        "n_pairs": n,
        "rules_balanced_accuracy": round(_macro(run.rules), 4),
        "rules_balanced_accuracy_by_dataset": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(run.rules.items())
        },
        "lenient_balanced_accuracy": round(_macro(run.lenient), 4),
        "lenient_balanced_accuracy_by_dataset": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(run.lenient.items())
        },
        "baseline_overlap_threshold": BASELINE_THRESHOLD,
        "baseline_balanced_accuracy": round(_macro(run.baseline), 4),
        "baseline_balanced_accuracy_by_dataset": {
            d: round(t.balanced_accuracy(), 4) for d, t in sorted(run.baseline.items())
        },
    }


def _cell(value: float | None) -> str:
    return f"{float(value):>9.3f}" if value is not None else f"{'-':>9}"


def format_table(result: dict[str, Any]) -> str:
    """A small plain-text table of a :func:`score` result."""
    by_dataset: dict[str, float] = result["balanced_accuracy_by_dataset"]
    baseline: dict[str, float] = result.get("baseline_balanced_accuracy_by_dataset", {})
    lenient: dict[str, float] = result.get("lenient_balanced_accuracy_by_dataset", {})
    rules: dict[str, float] = result.get("rules_balanced_accuracy_by_dataset", {})
    lines = [
        f"FRANK summary faithfulness ({result['n_pairs']} pairs, "
        f"{float(result['ms_per_pair']):.1f} ms/pair, "
        f"{float(result.get('ms_per_sentence', 0.0)):.1f} ms/sentence)",
        f"{'balanced accuracy':<20}{'verifier':>9}{'rules':>9}{'lenient':>9}{'overlap':>9}",
    ]
    for name, value in by_dataset.items():
        lines.append(
            f"{'  ' + name:<20}{value:>9.3f}"
            + _cell(rules.get(name))
            + _cell(lenient.get(name))
            + _cell(baseline.get(name))
        )
    lines.append(
        f"{'  macro average':<20}{float(result['balanced_accuracy']):>9.3f}"
        + _cell(result.get("rules_balanced_accuracy"))
        + _cell(result.get("lenient_balanced_accuracy"))
        + _cell(result.get("baseline_balanced_accuracy"))
    )
    lines.append(f"{'unfaithful precision':<20}{float(result['unfaithful_precision']):>9.3f}")
    lines.append(f"{'unfaithful recall':<20}{float(result['unfaithful_recall']):>9.3f}")
    return "\n".join(lines)
