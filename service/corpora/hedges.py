"""Score the uncertainty-cue analyzer on the Szeged Uncertainty Corpus (JSONL).

Each line is one sentence ``{doc, sid, text, uncertain, cues: [{start, end, ...}]}``.
A sentence is predicted uncertain when the analyzer finds a cue of a type the corpus
annotates (speculation, belief, reported, condition, investigation; estimates and
approximators are FactDesk additions the corpus does not mark). Cue F1 is exact
``(start, end)`` matching of those cues within each sentence.
"""

from __future__ import annotations

import json
from pathlib import Path

from service.analyzers.uncertainty import find_cues
from service.text import prepare

_SCORED_TYPES = frozenset(["speculation", "belief", "reported", "condition", "investigation"])


def predict(sentence: str) -> set[tuple[int, int]]:
    """Cue spans (offsets into ``sentence``) of the corpus-comparable cue types."""
    return {
        (c.span.start, c.span.end) for c in find_cues(prepare(sentence)) if c.type in _SCORED_TYPES
    }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(path: Path) -> dict[str, float | int]:
    """Sentence-level precision/recall/F1 of "uncertain" and exact cue F1 on the JSONL
    file at ``path``. Deterministic. Raises ``ValueError`` on a malformed line."""
    tp = fp = fn = 0
    cue_tp = cue_pred = cue_gold = 0
    n = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            n += 1
            gold = {(int(c["start"]), int(c["end"])) for c in row.get("cues", [])}
            pred = predict(str(row["text"]))
            is_gold = bool(row.get("uncertain", bool(gold)))
            is_pred = bool(pred)
            tp += is_gold and is_pred
            fp += is_pred and not is_gold
            fn += is_gold and not is_pred
            cue_tp += len(gold & pred)
            cue_pred += len(pred)
            cue_gold += len(gold)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    cp = cue_tp / cue_pred if cue_pred else 0.0
    cr = cue_tp / cue_gold if cue_gold else 0.0
    return {
        "sentence_precision": round(p, 4),
        "sentence_recall": round(r, 4),
        "sentence_f1": round(_f1(p, r), 4),
        "cue_f1": round(_f1(cp, cr), 4),
        "n_sentences": n,
    }


def format_table(result: dict[str, float | int]) -> str:
    """A small plain-text table of a :func:`score` result."""
    return "\n".join(
        [
            f"Szeged uncertainty ({result['n_sentences']} sentences)",
            f"{'sentence precision':<20}{float(result['sentence_precision']):>7.3f}",
            f"{'sentence recall':<20}{float(result['sentence_recall']):>7.3f}",
            f"{'sentence F1':<20}{float(result['sentence_f1']):>7.3f}",
            f"{'cue F1 (exact)':<20}{float(result['cue_f1']):>7.3f}",
        ]
    )
