"""Score the attribution analyzer on a PolNeAR split (brat standoff annotations).

Matching is per span label (Source, Cue, Content), micro-averaged over articles:

- *exact*: a predicted span counts when a gold span of the same label has the same
  ``(start, end)``;
- *overlap*: a predicted span counts when it overlaps a gold span of the same label,
  and a gold span is recalled when a predicted span overlaps it.

Gold spans are the fragments of the annotated spans (a discontinuous brat span
``10 20;25 40`` gives two spans), taken from attributions only (``Attribution`` and
``Attribution-no-source`` events; ``Discuss``/``Discard`` are ignored). Articles with
several annotation files are scored against the first file in name order.

Three systems are scored side by side: the rules alone, the trained tagger alone and
the two combined (what the product runs); see ``find_attributions``'s ``mode``. Where
the split has articles annotated twice, the two annotators are also scored against each
other (:func:`agreement`): the human ceiling the figures are read against.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.analyzers.attributions import Mode, find_attributions
from service.text import prepare

_LINE = re.compile(r"^([TE]\d+)\t(.*)$")
_LABELS = ("Source", "Cue", "Content")
Span = tuple[int, int]


def parse_ann(text: str) -> dict[str, set[Span]]:
    """Gold spans per label (``Source``, ``Cue``, ``Content``) of one brat .ann file."""
    spans: dict[str, list[Span]] = {}
    events: list[dict[str, str]] = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue  # continuation lines of multi-line span texts, notes
        tid, rest = m.groups()
        if tid.startswith("T"):
            head = rest.split("\t", 1)[0]
            _, _, offsets = head.partition(" ")
            frags: list[Span] = []
            for frag in offsets.split(";"):
                nums = frag.split()
                if len(nums) == 2 and nums[0].isdigit() and nums[1].isdigit():
                    frags.append((int(nums[0]), int(nums[1])))
            spans[tid] = frags
        else:
            roles = dict(p.split(":", 1) for p in rest.split() if ":" in p)
            if "Attribution" in roles or "Attribution-no-source" in roles:
                events.append(roles)
    gold: dict[str, set[Span]] = {label: set() for label in _LABELS}
    for ev in events:
        for label in _LABELS:
            if label in ev:
                gold[label].update(spans.get(ev[label], ()))
    return gold


#: The systems :func:`score` compares; the last is the product's.
MODES: tuple[Mode, ...] = ("rules", "model", "combined")


def predict(text: str, mode: Mode = "combined") -> dict[str, set[Span]]:
    """Predicted spans per label for one article text."""
    pred: dict[str, set[Span]] = {label: set() for label in _LABELS}
    for a in find_attributions(prepare(text), mode):
        if a.source is not None:
            pred["Source"].add((a.source.start, a.source.end))
        if a.cue is not None:
            pred["Cue"].add((a.cue.start, a.cue.end))
        pred["Content"].add((a.content.start, a.content.end))
    return pred


@dataclass
class _Counts:
    tp_p: int = 0  # predicted spans that match
    tp_g: int = 0  # gold spans that are matched
    n_pred: int = 0
    n_gold: int = 0

    def f1(self) -> float:
        """F1 of the counts (0.0 when nothing was predicted or nothing is gold)."""
        p = self.tp_p / self.n_pred if self.n_pred else 0.0
        r = self.tp_g / self.n_gold if self.n_gold else 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class _Tally:
    exact: dict[str, _Counts] = field(default_factory=lambda: {k: _Counts() for k in _LABELS})
    overlap: dict[str, _Counts] = field(default_factory=lambda: {k: _Counts() for k in _LABELS})

    def add(self, gold: dict[str, set[Span]], pred: dict[str, set[Span]]) -> None:
        """Count one article's gold and predicted spans."""
        for label in _LABELS:
            g, p = gold[label], pred[label]
            e = self.exact[label]
            hits = len(g & p)
            e.tp_p += hits
            e.tp_g += hits
            e.n_pred += len(p)
            e.n_gold += len(g)
            o = self.overlap[label]
            o.tp_p += sum(1 for s in p if _overlaps_any(s, g))
            o.tp_g += sum(1 for s in g if _overlaps_any(s, p))
            o.n_pred += len(p)
            o.n_gold += len(g)


def _overlaps_any(span: Span, others: Iterable[Span]) -> bool:
    return any(span[0] < o[1] and o[0] < span[1] for o in others)


def _annotated(path: Path) -> list[tuple[Path, list[Path]]]:
    """Each article text of the split with its annotation files, in name order (articles
    without one are left out)."""
    out: list[tuple[Path, list[Path]]] = []
    for txt in sorted((path / "text").glob("*.txt")):
        anns = sorted((path / "attributions").glob(f"{txt.stem}_*.ann"))
        if anns:
            out.append((txt, anns))
    return out


def _articles(path: Path) -> list[tuple[Path, Path]]:
    return [(txt, anns[0]) for txt, anns in _annotated(path)]


def _metrics(tally: _Tally, n: int) -> dict[str, float | int]:
    return {
        "source_f1_exact": round(tally.exact["Source"].f1(), 4),
        "source_f1_overlap": round(tally.overlap["Source"].f1(), 4),
        "cue_f1_exact": round(tally.exact["Cue"].f1(), 4),
        "content_f1_exact": round(tally.exact["Content"].f1(), 4),
        "content_f1_overlap": round(tally.overlap["Content"].f1(), 4),
        "n_articles": n,
    }


def score(path: Path, modes: Sequence[Mode] = MODES) -> dict[str, Any]:
    """Source, cue and content F1 (exact and overlap) of :func:`find_attributions` on
    the PolNeAR split at ``path`` (``text/`` and ``attributions/``), for each system in
    ``modes``. The top-level metrics are the last mode's; with several modes, ``rows``
    holds each mode's metrics. Deterministic. Raises ``FileNotFoundError`` when the
    split has no annotated article."""
    pairs = _articles(path)
    if not pairs:
        raise FileNotFoundError(f"no annotated articles under {path}")
    tallies = {mode: _Tally() for mode in modes}
    for txt, ann in pairs:
        text = txt.read_text(encoding="utf-8")
        gold = parse_ann(ann.read_text(encoding="utf-8"))
        for mode in modes:
            tallies[mode].add(gold, predict(text, mode))
    rows = {mode: _metrics(tally, len(pairs)) for mode, tally in tallies.items()}
    result: dict[str, Any] = dict(rows[modes[-1]])
    if len(modes) > 1:
        result["system"] = modes[-1]
        result["rows"] = rows
    agreed = agreement(path)
    if agreed is not None:
        result["annotator_agreement"] = agreed
    return result


def agreement(path: Path) -> dict[str, float | int] | None:
    """How far two annotators of the same article agree: the second annotation file
    (name order) scored against the first, with the system's matching, over the
    articles of the split that have two; ``None`` when none has. This is the ceiling a
    system's F1 against one annotator can be read against."""
    tally = _Tally()
    twice = [anns[:2] for _, anns in _annotated(path) if len(anns) >= 2]
    for anns in twice:
        first, second = (parse_ann(a.read_text(encoding="utf-8")) for a in anns)
        tally.add(first, second)
    return _metrics(tally, len(twice)) if twice else None


def _table(result: dict[str, Any], label: str) -> list[str]:
    rows = [
        ("source", result["source_f1_exact"], result["source_f1_overlap"]),
        ("cue", result["cue_f1_exact"], "-"),
        ("content", result["content_f1_exact"], result["content_f1_overlap"]),
    ]
    lines = [f"{label}", f"{'span':<10}{'exact':>8}{'overlap':>9}"]
    for name, ex, ov in rows:
        ov_s = f"{ov:.3f}" if isinstance(ov, float) else ov
        lines.append(f"{name:<10}{float(ex):>8.3f}{ov_s:>9}")
    return lines


def format_table(result: dict[str, Any]) -> str:
    """A small plain-text table of a :func:`score` result (one block per system)."""
    lines = [f"PolNeAR attribution F1 ({result['n_articles']} articles)"]
    for mode, row in result.get("rows", {"": result}).items():
        lines += _table(row, mode or "system")
    agreed = result.get("annotator_agreement")
    if agreed:
        label = f"annotator vs annotator ({agreed['n_articles']} doubly annotated articles)"
        lines += _table(agreed, label)
    return "\n".join(lines)
