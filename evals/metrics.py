"""Eval metrics: one analysis (or its absence) scored against a case's gold.

Every metric is a :class:`Ratio` (numerator over denominator) so that a suite aggregates
by summing both parts (micro-average); a ratio with a zero denominator is "not
applicable" and reads as ``None``. Matching is by character overlap between response
spans and the gold substrings' positions in the article, so results do not depend on
sentence ids.

What counts as found:

- a *claim* is any entry of ``claims`` (whatever its ``origin``); ``rejected_claims`` are
  never found. It touches a gold claim when one of its evidence spans (or its quote)
  overlaps the gold evidence.
- a *flag* touches a gold flag of the same type when its span, or one of the sentences it
  cites, overlaps the gold evidence.
- a *conflict* is found when one ``conflicting_figures`` flag touches at least two of the
  gold figures (or all of them if the gold lists one).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from service.schemas import AnalysisResponse, Claim, Flag, FlagType, Speaker

from .dataset import Case, GoldClaim

FLAG_TYPES: tuple[str, ...] = get_args(FlagType)
Span = tuple[int, int]
Direction = Literal["higher", "lower", "info"]


@dataclass(frozen=True)
class Ratio:
    """``num / den``; ``value`` is ``None`` when ``den`` is 0 (not applicable)."""

    num: float = 0.0
    den: float = 0.0

    @property
    def value(self) -> float | None:
        """The ratio, or ``None`` when nothing was counted."""
        return None if self.den == 0 else self.num / self.den

    def __add__(self, other: Ratio) -> Ratio:
        return Ratio(self.num + other.num, self.den + other.den)


@dataclass(frozen=True)
class MetricSpec:
    """How a metric reads: ``direction`` says which way is better (``info``: not gated);
    ``kind`` says how a suite value is shown (``rate`` and ``mean`` are num/den, ``total``
    is the summed numerator)."""

    name: str
    label: str
    direction: Direction
    kind: Literal["rate", "mean", "total"]
    tolerance: float = 0.05


_BASE_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("outcome_accuracy", "outcome as expected", "higher", "rate", 0.0),
    MetricSpec("schema_valid_rate", "schema-valid answers", "higher", "rate"),
    MetricSpec("claim_recall", "claim recall", "higher", "rate"),
    MetricSpec("claim_precision", "claim precision", "higher", "rate"),
    MetricSpec("speaker_accuracy", "speaker accuracy (name+type)", "higher", "rate"),
    MetricSpec("speaker_type_accuracy", "speaker type accuracy", "higher", "rate"),
    MetricSpec("grounded_rate", "grounded claims / proposed", "higher", "rate"),
    MetricSpec("model_claim_grounded_rate", "model claims grounded / proposed", "higher", "rate"),
    MetricSpec("flag_recall", "flag recall", "higher", "rate"),
    MetricSpec("flag_precision", "flag precision", "higher", "rate"),
    MetricSpec("conflict_recall", "figure-conflict recall", "higher", "rate"),
    MetricSpec("summary_support_rate", "summary sentences supported", "higher", "rate"),
    MetricSpec(
        "model_summary_support_rate", "model-written summary sentences supported", "higher", "rate"
    ),
    MetricSpec("must_carry_coverage", "summary must-carry coverage", "higher", "rate"),
    MetricSpec("dedup_recall", "repeats dropped", "higher", "rate"),
    MetricSpec("must_not_violations", "must-not violations", "lower", "total", 0.0),
    MetricSpec("attempts", "model calls per case", "info", "mean"),
    MetricSpec("latency_ms", "latency per case (ms, recorded)", "info", "mean"),
    MetricSpec("prompt_tokens", "prompt tokens (total)", "info", "total"),
    MetricSpec("completion_tokens", "completion tokens (total)", "info", "total"),
    MetricSpec("cost_usd", "cost (USD, total)", "info", "total"),
)
_TYPE_SPECS: tuple[MetricSpec, ...] = tuple(
    MetricSpec(f"{kind}.{t}", f"  {kind.split('_')[1]} {t}", "higher", "rate")
    for t in FLAG_TYPES
    for kind in ("flag_recall", "flag_precision")
)

#: Every metric, in display order.
SPECS: tuple[MetricSpec, ...] = _BASE_SPECS[:10] + _TYPE_SPECS + _BASE_SPECS[10:]
SPEC_BY_NAME: Mapping[str, MetricSpec] = {s.name: s for s in SPECS}

CaseMetrics = dict[str, Ratio]


# ----------------------------------------------------------------------------- helpers


def overlaps(a: Span, b: Span) -> bool:
    """True when the half-open spans share at least one character."""
    return a[0] < b[1] and b[0] < a[1]


def claim_spans(claim: Claim) -> list[Span]:
    """The article spans a claim points at: its evidence and its quote."""
    spans = [(e.start, e.end) for e in claim.evidence]
    if claim.quote is not None:
        spans.append((claim.quote.start, claim.quote.end))
    return spans


def flag_spans(flag: Flag, sentences: Mapping[str, Span]) -> list[Span]:
    """The article spans a flag points at: its span and the sentences it cites."""
    spans = [sentences[s] for s in flag.sentence_ids if s in sentences]
    if flag.span is not None:
        spans.append((flag.span.start, flag.span.end))
    return spans


def _sentence_index(response: AnalysisResponse) -> dict[str, Span]:
    return {s.id: (s.start, s.end) for s in response.sentences}


_ARTICLES = frozenset({"the", "a", "an", "el", "la", "los", "las", "un", "una"})


def _name_tokens(name: str) -> list[str]:
    text = unicodedata.normalize("NFKC", name).casefold().replace("’", "'")
    tokens = re.findall(r"[^\W_]+", text)
    return [t for t in tokens if t not in _ARTICLES]


def speaker_name_matches(gold: GoldClaim, speaker: Speaker) -> bool:
    """True when the predicted speaker names the gold speaker (or an alias): the
    prediction contains the gold's head word (its last word, "Votel" of "Gen. Joseph
    Votel") and either uses only words of the gold name or shares two of them; the
    name as written or the name it resolves to may match. A gold speaker of ``None``
    (the outlet) accepts any name."""
    if gold.speaker is None:
        return True
    for written in (speaker.name, speaker.resolved):
        if written and _names(gold, set(_name_tokens(written))):
            return True
    return False


def _names(gold: GoldClaim, pred: set[str]) -> bool:
    for name in (gold.speaker, *gold.aliases):
        if name is None:
            continue
        want = _name_tokens(name)
        if not want or want[-1] not in pred:
            continue
        if pred <= set(want) or len(pred & set(want)) >= min(2, len(set(want))):
            return True
    return False


def speaker_type_matches(gold: GoldClaim, speaker: Speaker) -> bool:
    """True when the predicted speaker type is one the gold accepts."""
    types = gold.speaker_types()
    return types is None or speaker.type in types


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"(?<=\d)[,.\u00a0\u202f ](?=\d{3}\b)", "", text)  # 20,000 -> 20000
    return " ".join(re.findall(r"[^\W_]+(?:[.%][^\W_]+)*|%", text))


def term_in(term: str, text: str) -> bool:
    """True when one of the ``|``-separated alternatives of ``term`` occurs in ``text``
    as whole words, ignoring case, punctuation and thousands separators."""
    hay = f" {_fold(text)} "
    return any(f" {_fold(alt)} " in hay for alt in term.split("|") if _fold(alt))


# ----------------------------------------------------------------------------- details


@dataclass
class ClaimMatch:
    """How one gold claim fared."""

    evidence: str
    span: Span
    required: bool
    found_by: list[str] = field(default_factory=list)
    speaker_ok: bool = False
    speaker_type_ok: bool = False


@dataclass
class FlagMatch:
    """How one gold flag fared."""

    type: str
    evidence: str
    span: Span
    required: bool
    found_by: list[str] = field(default_factory=list)


@dataclass
class ConflictMatch:
    """How one gold figure conflict fared."""

    quantity: str
    figures: list[str]
    found_by: list[str] = field(default_factory=list)


@dataclass
class Violation:
    """A must-not rule broken by a claim or summary sentence."""

    rule: str
    where: str
    text: str
    why: str


@dataclass
class Score:
    """Metrics of one case plus the matching behind them (for the report)."""

    metrics: CaseMetrics
    claims: list[ClaimMatch] = field(default_factory=list)
    flags: list[FlagMatch] = field(default_factory=list)
    conflicts: list[ConflictMatch] = field(default_factory=list)
    must_carry: list[tuple[list[str], bool]] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    unmatched_claims: list[str] = field(default_factory=list)
    unmatched_flags: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- scoring


def score_claims(
    case: Case, response: AnalysisResponse | None
) -> tuple[CaseMetrics, list[ClaimMatch], list[str]]:
    """Claim recall (required gold found), precision (found claims that touch any gold
    claim, required or optional), speaker and speaker-type accuracy over the required
    gold claims that were found, and grounded rate (claims kept over claims proposed).
    Also returns the per-gold matches and the ids of claims that touch no gold."""
    claims = response.claims if response else []
    matches: list[ClaimMatch] = []
    for is_required, golds in ((True, case.gold.claims), (False, case.gold.optional_claims)):
        for gold in golds:
            span = case.locate(gold.evidence)
            m = ClaimMatch(gold.evidence, span, is_required)
            for claim in claims:
                if any(overlaps(span, s) for s in claim_spans(claim)):
                    m.found_by.append(claim.id)
                    name_ok = speaker_name_matches(gold, claim.speaker)
                    type_ok = speaker_type_matches(gold, claim.speaker)
                    m.speaker_ok = m.speaker_ok or (name_ok and type_ok)
                    m.speaker_type_ok = m.speaker_type_ok or type_ok
            matches.append(m)
    required = [m for m in matches if m.required]
    found = [m for m in required if m.found_by]
    touched = {cid for m in matches for cid in m.found_by}
    unmatched = [c.id for c in claims if c.id not in touched]
    proposed = len(claims) + (len(response.rejected_claims) if response else 0)
    # what the model itself proposed: its kept claims (alone or confirmed by the rules)
    # and every claim of its that grounding rejected
    model_kept = sum(1 for c in claims if c.origin in ("llm", "both"))
    model_rejected = (
        sum(1 for r in response.rejected_claims if r.origin != "rules") if response else 0
    )
    metrics = {
        "claim_recall": Ratio(len(found), len(required)),
        "claim_precision": Ratio(len(claims) - len(unmatched), len(claims)),
        "speaker_accuracy": Ratio(sum(m.speaker_ok for m in found), len(found)),
        "speaker_type_accuracy": Ratio(sum(m.speaker_type_ok for m in found), len(found)),
        "grounded_rate": Ratio(len(claims), proposed) if response else Ratio(),
        "model_claim_grounded_rate": Ratio(model_kept, model_kept + model_rejected)
        if response
        else Ratio(),
    }
    return metrics, matches, unmatched


def _flag_touches(flag: Flag, sentences: Mapping[str, Span], span: Span) -> bool:
    return any(overlaps(span, s) for s in flag_spans(flag, sentences))


def score_flags(
    case: Case, response: AnalysisResponse | None
) -> tuple[CaseMetrics, list[FlagMatch], list[str]]:
    """Flag recall and precision, overall and per flag type: a required gold flag is
    recalled when a flag of its type touches it; a predicted flag is precise when it
    touches a gold flag (required or optional) of its type."""
    flags = response.flags if response else []
    sentences = _sentence_index(response) if response else {}
    matches: list[FlagMatch] = []
    for is_required, golds in ((True, case.gold.flags), (False, case.gold.optional_flags)):
        for gold in golds:
            m = FlagMatch(gold.type, gold.evidence, case.locate(gold.evidence), is_required)
            m.found_by = [
                f.id for f in flags if f.type == gold.type and _flag_touches(f, sentences, m.span)
            ]
            matches.append(m)
    touched = {fid for m in matches for fid in m.found_by}
    metrics: CaseMetrics = {}
    total_r, total_p = Ratio(), Ratio()
    for t in FLAG_TYPES:
        req = [m for m in matches if m.required and m.type == t]
        recall = Ratio(sum(1 for m in req if m.found_by), len(req))
        of_type = [f for f in flags if f.type == t]
        precision = Ratio(sum(1 for f in of_type if f.id in touched), len(of_type))
        metrics[f"flag_recall.{t}"] = recall
        metrics[f"flag_precision.{t}"] = precision
        total_r, total_p = total_r + recall, total_p + precision
    metrics["flag_recall"] = total_r
    metrics["flag_precision"] = total_p
    unmatched = [f.id for f in flags if f.id not in touched]
    return metrics, matches, unmatched


def score_conflicts(
    case: Case, response: AnalysisResponse | None
) -> tuple[CaseMetrics, list[ConflictMatch]]:
    """Conflict recall: a gold conflict is found when a ``conflicting_figures`` flag
    touches at least two of its figures (all of them if fewer)."""
    flags = [f for f in (response.flags if response else []) if f.type == "conflicting_figures"]
    sentences = _sentence_index(response) if response else {}
    matches: list[ConflictMatch] = []
    for gold in case.gold.conflicts:
        spans = [case.locate(fig) for fig in gold.figures]
        need = min(2, len(spans))
        m = ConflictMatch(gold.quantity, list(gold.figures))
        m.found_by = [
            f.id for f in flags if sum(_flag_touches(f, sentences, s) for s in spans) >= need
        ]
        matches.append(m)
    found = sum(1 for m in matches if m.found_by)
    return {"conflict_recall": Ratio(found, len(matches))}, matches


def score_summary(
    case: Case, response: AnalysisResponse | None
) -> tuple[CaseMetrics, list[tuple[list[str], bool]]]:
    """Summary support rate (sentences verified ``supported`` over all summary
    sentences) and must-carry coverage (gold facts whose terms all occur in summary
    sentences that are not ``unsupported``)."""
    summary = response.summary if response else []
    supported = sum(1 for s in summary if s.verification.status == "supported")
    written = [s for s in summary if s.origin == "llm"]
    written += response.rejected_summary if response else []
    written_ok = sum(1 for s in written if s.verification.status == "supported")
    carried_text = " ".join(s.text for s in summary if s.verification.status != "unsupported")
    facts = [
        (list(terms), all(term_in(t, carried_text) for t in terms))
        for terms in case.gold.summary_must_carry
    ]
    metrics = {
        "summary_support_rate": Ratio(supported, len(summary)) if response else Ratio(),
        "model_summary_support_rate": Ratio(written_ok, len(written)) if response else Ratio(),
        "must_carry_coverage": Ratio(sum(ok for _, ok in facts), len(facts)),
    }
    return metrics, facts


def find_violations(case: Case, response: AnalysisResponse | None) -> list[Violation]:
    """Must-not rules broken: a rule's pattern matches a claim in ``claims`` or a summary
    sentence not verified ``unsupported`` (and its ``unless`` does not)."""
    if response is None:
        return []
    out: list[Violation] = []
    for rule in case.gold.must_not:
        texts: list[tuple[str, str]] = []
        if rule.where in ("claims", "both"):
            texts += [(f"claim {c.id}", c.text) for c in response.claims]
        if rule.where in ("summary", "both"):
            texts += [
                (f"summary {i}", s.text)
                for i, s in enumerate(response.summary, 1)
                if s.verification.status != "unsupported"
            ]
        for where, text in texts:
            if re.search(rule.pattern, text, re.I) and not (
                rule.unless and re.search(rule.unless, text, re.I)
            ):
                out.append(Violation(rule.pattern, where, text, rule.why))
    return out


def run_metrics(
    *,
    outcome: str,
    expected: str,
    attempts: int | None,
    latency_ms: float | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: float | None,
) -> CaseMetrics:
    """Outcome, schema validity, attempts, latency, tokens and cost of one case.
    Schema validity is counted only for cases where the model answered (``ok`` or
    ``model-output-invalid``)."""
    answered = outcome in ("ok", "model-output-invalid")
    return {
        "outcome_accuracy": Ratio(1.0 if outcome == expected else 0.0, 1.0),
        "schema_valid_rate": Ratio(1.0 if outcome == "ok" else 0.0, 1.0) if answered else Ratio(),
        "attempts": Ratio(attempts, 1.0) if attempts is not None else Ratio(),
        "latency_ms": Ratio(latency_ms, 1.0) if latency_ms is not None else Ratio(),
        "prompt_tokens": Ratio(prompt_tokens or 0, 1.0) if prompt_tokens is not None else Ratio(),
        "completion_tokens": Ratio(completion_tokens or 0, 1.0)
        if completion_tokens is not None
        else Ratio(),
        "cost_usd": Ratio(cost_usd, 1.0) if cost_usd is not None else Ratio(),
    }


def score_case(
    case: Case,
    response: AnalysisResponse | None,
    *,
    outcome: str,
    attempts: int | None = None,
    latency_ms: float | None = None,
) -> Score:
    """Every metric of one case. ``response`` is ``None`` when the run ended in an error:
    then a case expected to succeed scores zero recall and coverage (what it failed to
    deliver), while a case that failed as expected is scored on its outcome only."""
    expected = case.gold.expect
    if response is None and outcome == expected:
        case_for_content = case.model_copy(update={"gold": type(case.gold)(expect=expected)})
    else:
        case_for_content = case
    usage = response.meta.usage if response else None
    metrics = run_metrics(
        outcome=outcome,
        expected=expected,
        attempts=attempts
        if attempts is not None
        else (response.meta.attempts if response else None),
        latency_ms=latency_ms,
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        cost_usd=usage.cost_usd if usage else None,
    )
    claim_m, claim_matches, unmatched_claims = score_claims(case_for_content, response)
    flag_m, flag_matches, unmatched_flags = score_flags(case_for_content, response)
    conflict_m, conflicts = score_conflicts(case_for_content, response)
    summary_m, facts = score_summary(case_for_content, response)
    violations = find_violations(case_for_content, response)
    metrics.update(claim_m)
    metrics.update(flag_m)
    metrics.update(conflict_m)
    metrics.update(summary_m)
    rules = len(case_for_content.gold.must_not)
    metrics["must_not_violations"] = Ratio(len(violations), 1.0) if rules and response else Ratio()
    want = case_for_content.gold.removed_min
    if want:
        got = len(response.removed) if response else 0
        metrics["dedup_recall"] = Ratio(min(got, want), want)
    else:
        metrics["dedup_recall"] = Ratio()
    return Score(
        metrics=metrics,
        claims=claim_matches,
        flags=flag_matches,
        conflicts=conflicts,
        must_carry=facts,
        violations=violations,
        unmatched_claims=unmatched_claims,
        unmatched_flags=unmatched_flags,
    )


def aggregate(per_case: Iterable[Mapping[str, Ratio]]) -> dict[str, Ratio]:
    """Suite metrics: numerators and denominators summed over cases (micro-average)."""
    total: dict[str, Ratio] = {spec.name: Ratio() for spec in SPECS}
    for metrics in per_case:
        for name, ratio in metrics.items():
            total[name] = total.get(name, Ratio()) + ratio
    return total


def display_value(name: str, ratio: Ratio) -> float | None:
    """The number a person reads for a metric: the ratio for rates and means, the summed
    numerator for totals; ``None`` when not applicable."""
    spec = SPEC_BY_NAME.get(name)
    if spec is not None and spec.kind == "total":
        return None if ratio.den == 0 else ratio.num
    return ratio.value


def values(metrics: Mapping[str, Ratio]) -> dict[str, float | None]:
    """Display values of a metric mapping (see :func:`display_value`), rounded to 4 places."""
    out: dict[str, float | None] = {}
    for name, ratio in metrics.items():
        v = display_value(name, ratio)
        out[name] = None if v is None else round(v, 4)
    return out
