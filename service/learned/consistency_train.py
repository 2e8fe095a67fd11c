"""Train the consistency scorer on synthetic news edits and SummEdits.

Training pairs are (statement, evidence sentences, article, label):

* from news articles (PolNeAR train ``text/*.txt``), FactCC-style: an article sentence,
  a clause of it, or it joined to its neighbour is supported; the same sentence with a
  name, number, speaker or pronoun swapped for another of the article, a negation added
  or removed, an antonym, a detail from another article, or the subject of one sentence
  stitched to the predicate of another is not. Some pairs are lower-cased and tokenised
  like the output of older summarisers.
* from SummEdits, with ``--train-on-summedits`` only: each sentence of an edited summary
  that differs from the consistent seed summary, with the edit's label. By default
  SummEdits is held out and its domains measure the scorer on unseen kinds of text.

The evidence of every statement is what the product retrieves for it
(:func:`service.retrieval.best_matches` over the article's sentences). A logistic model
with L2 penalty is fitted on the features of :mod:`service.learned.consistency`; the
two thresholds on its probability are then chosen on a FRANK file (never a test split)
to maximise macro balanced accuracy of the summary verdict. Seeded; logs each step;
the weights file records the FRANK and SummEdits figures it measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import support
from ..faithfulness import DEFAULT_TOP_K
from ..retrieval import SentenceIndex
from . import WEIGHTS_DIR

log = logging.getLogger("factdesk.train.faithfulness")

#: Evidence sentences per statement: as many as the verifier retrieves for a summary sentence.
EVIDENCE_K = DEFAULT_TOP_K
_NAME_RUN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_AUX = re.compile(
    r"\b(is|are|was|were|will|would|can|could|has|have|had|does|did|should|must)\b(?! not)"
)
_NEGATED = re.compile(
    r"\b(is|are|was|were|will|would|can|could|has|have|had|does|did)"
    r"(?: not|n't)\b"
)
_PRONOUNS = {"he": "she", "she": "he", "his": "her", "her": "his", "him": "her"}
_SPEAKER = re.compile(r"\b(said|says|told|according to)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)")


@dataclass(frozen=True)
class Pair:
    """One training example: does ``evidence`` (sentences of ``article``) support
    ``statement``? ``source`` names the generator, for the log."""

    statement: str
    evidence: tuple[str, ...]
    article: str
    label: int
    source: str


def _sentences(text: str) -> list[str]:
    from ..faithfulness import segments

    return [s.text for s in segments(text)]


def _tokenise_lower(text: str) -> str:
    text = text.lower()
    text = re.sub(r"n't\b", " n't", text)
    text = re.sub(r"'s\b", " 's", text)
    return re.sub(r"\s*([,.;:!?\"()])\s*", r" \1 ", text).strip()


def _names(sentence: str) -> list[str]:
    return [m.group() for m in _NAME_RUN.finditer(sentence) if m.start() > 0]


def _swap_name(s: str, article_names: Sequence[str], rng: random.Random) -> str | None:
    here = _names(s)
    others = [
        n for n in article_names if n not in s and all(n not in h and h not in n for h in here)
    ]
    if not here or not others:
        return None
    target = rng.choice(here)
    return s.replace(target, rng.choice(others), 1)


def _swap_number(s: str, article_numbers: Sequence[str], rng: random.Random) -> str | None:
    here = _NUMBER.findall(s)
    here = [h for h in here if not (len(h) == 4 and h.startswith(("19", "20")))] or here
    if not here:
        return None
    target = rng.choice(here)
    others = [n for n in article_numbers if n != target]
    if others and rng.random() < 0.75:
        new = rng.choice(others)
    else:
        value = float(target.replace(",", ""))
        new = f"{int(value * rng.choice((2, 3, 10)) + rng.randint(1, 9)):,}"
    return re.sub(rf"\b{re.escape(target)}\b", new, s, count=1)


def _flip_negation(s: str, rng: random.Random) -> str | None:
    if (m := _NEGATED.search(s)) is not None:
        return s[: m.start()] + m.group(1) + s[m.end() :]
    matches = list(_AUX.finditer(s))
    if not matches:
        return None
    m = rng.choice(matches)
    return s[: m.end()] + " not" + s[m.end() :]


def _antonym(s: str, rng: random.Random) -> str | None:
    tokens = s.split()
    spots = [i for i, t in enumerate(tokens) if t.lower().strip(",.") in support.ANTONYM_FORMS]
    if not spots:
        return None
    i = rng.choice(spots)
    word = tokens[i].lower().strip(",.")
    group, sign = support.ANTONYM_FORMS[word]
    opposite = sorted(w for w, gs in support.ANTONYM_FORMS.items() if gs == (group, -sign))
    tokens[i] = tokens[i].lower().replace(word, rng.choice(opposite))
    return " ".join(tokens)


def _swap_pronoun(s: str, rng: random.Random) -> str | None:
    tokens = s.split()
    spots = [i for i, t in enumerate(tokens) if t.lower() in _PRONOUNS]
    if not spots:
        return None
    i = rng.choice(spots)
    new = _PRONOUNS[tokens[i].lower()]
    tokens[i] = new.capitalize() if tokens[i][0].isupper() else new
    return " ".join(tokens)


def _swap_speaker(s: str, article_names: Sequence[str], rng: random.Random) -> str | None:
    m = _SPEAKER.search(s)
    if m is None:
        return None
    others = [n for n in article_names if n not in s and " " in n]
    if not others:
        return None
    return s[: m.start(2)] + rng.choice(others) + s[m.end(2) :]


def _stitch(s: str, other: str, rng: random.Random) -> str | None:
    a, b = s.split(), other.split()
    if len(a) < 8 or len(b) < 8:
        return None
    cut_a = rng.randint(3, max(3, len(a) // 2))
    cut_b = rng.randint(len(b) // 3, max(len(b) // 3, 2 * len(b) // 3))
    return " ".join(a[:cut_a] + b[cut_b:])


def _clause(s: str, rng: random.Random) -> str | None:
    parts = [p.strip() for p in s.split(",") if p.strip()]
    long_parts = [p for p in parts if len(p.split()) >= 6]
    if len(parts) < 2 or not long_parts:
        return None
    kept = rng.choice(long_parts)
    return kept.rstrip(".") + "."


def _add_detail(s: str, foreign: str, rng: random.Random) -> str | None:
    words = foreign.rstrip(".").split()
    if len(words) < 6:
        return None
    start = rng.randint(0, len(words) - 4)
    detail = " ".join(words[start : start + rng.randint(3, 6)])
    return s.rstrip(".") + rng.choice((", after ", ", while ", " as ", ", amid ")) + detail + "."


def news_pairs(paths: Sequence[Path], rng: random.Random, per_article: int) -> list[Pair]:
    """Synthetic supported / unsupported pairs from the news articles at ``paths``."""
    texts = [p.read_text(encoding="utf-8") for p in paths]
    pairs: list[Pair] = []
    for n, text in enumerate(texts):
        sentences = [s for s in _sentences(text) if 6 <= len(s.split()) <= 45]
        if len(sentences) < 4:
            continue
        article = text
        all_sentences = _sentences(text)
        index = SentenceIndex(all_sentences)
        names = sorted({name for s in sentences for name in _names(s)})
        figures = sorted({x for s in sentences for x in _NUMBER.findall(s)})
        foreign_text = texts[(n + 1 + rng.randrange(len(texts) - 1)) % len(texts)]
        foreign = [s for s in _sentences(foreign_text) if len(s.split()) >= 8] or sentences
        for s in rng.sample(sentences, min(per_article, len(sentences))):
            other = rng.choice([x for x in sentences if x != s])
            positives: list[tuple[str, str]] = [("copy", s)]
            if (c := _clause(s, rng)) is not None:
                positives.append(("clause", c))
            i = all_sentences.index(s) if s in all_sentences else -1
            if 0 <= i < len(all_sentences) - 1 and len(all_sentences[i + 1].split()) < 30:
                positives.append(("joined", s.rstrip(".") + "; " + all_sentences[i + 1]))
            negatives: list[tuple[str, str | None]] = [
                ("name", _swap_name(s, names, rng)),
                ("number", _swap_number(s, figures, rng)),
                ("negation", _flip_negation(s, rng)),
                ("antonym", _antonym(s, rng)),
                ("pronoun", _swap_pronoun(s, rng)),
                ("speaker", _swap_speaker(s, names, rng)),
                ("stitch", _stitch(s, other, rng)),
                ("detail", _add_detail(s, rng.choice(foreign), rng)),
            ]
            found = [(k, v) for k, v in negatives if v is not None and v != s]
            rng.shuffle(found)
            chosen_pos = rng.sample(positives, min(2, len(positives)))
            for label, options in ((1, chosen_pos), (0, found[: len(chosen_pos)])):
                for kind, statement in options:
                    assert statement is not None
                    lower = rng.random() < 0.3
                    claim = _tokenise_lower(statement) if lower else statement
                    evidence = tuple(all_sentences[j] for j in index.top(claim, EVIDENCE_K))
                    if lower:
                        evidence = tuple(_tokenise_lower(e) for e in evidence)
                        art = _tokenise_lower(article)
                    else:
                        art = article
                    pairs.append(Pair(claim, evidence, art, label, f"news-{kind}"))
        if n % 100 == 0:
            log.info("news: %d/%d articles, %d pairs", n, len(texts), len(pairs))
    return pairs


def summedits_pairs(directory: Path, domains: Iterable[str] | None = None) -> list[Pair]:
    """Sentence pairs from SummEdits files (``DOMAIN.jsonl``) in ``directory``: every
    sentence of an edit that differs from its seed summary, labelled as the edit is."""
    pairs: list[Pair] = []
    for path in sorted(directory.glob("*.jsonl")):
        if domains is not None and path.stem not in set(domains):
            continue
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        seeds = {r["id"].rsplit("_", 1)[0]: r for r in rows if r["id"].endswith("_og")}
        indexes: dict[str, tuple[list[str], SentenceIndex]] = {}
        for row in rows:
            group = row["id"].rsplit("_", 1)[0]
            seed = seeds.get(group)
            if seed is None:
                continue
            article = row["article"]
            if article not in indexes:
                sents = _sentences(article)
                indexes[article] = (sents, SentenceIndex(sents))
            sents, index = indexes[article]
            seed_sentences = set(_sentences(seed["summary"]))
            for sentence in _sentences(row["summary"]):
                if row is not seed and sentence in seed_sentences:
                    continue
                evidence = tuple(sents[j] for j in index.top(sentence, EVIDENCE_K))
                pairs.append(Pair(sentence, evidence, article, int(row["label"]), path.stem))
    return pairs


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> np.ndarray:
    """Weights ``[intercept, *coef]`` of an L2-penalised logistic regression on the
    standardised ``x`` (Newton's method; deterministic)."""
    design = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -40, 40)))
        grad = design.T @ (p - y) + penalty @ w
        hess = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


def summedits_summaries(directory: Path) -> list[tuple[str, int, list[Pair]]]:
    """Every SummEdits summary as ``(domain, label, its sentence pairs)``, for scoring
    the summary verdict the way the benchmark does."""
    out: list[tuple[str, int, list[Pair]]] = []
    for path in sorted(directory.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        indexes: dict[str, tuple[list[str], SentenceIndex]] = {}
        for row in rows:
            article = row["article"]
            if article not in indexes:
                sents = _sentences(article)
                indexes[article] = (sents, SentenceIndex(sents))
            sents, index = indexes[article]
            pairs = [
                Pair(s, tuple(sents[j] for j in index.top(s, EVIDENCE_K)), article, -1, path.stem)
                for s in _sentences(row["summary"])
            ]
            out.append((path.stem, int(row["label"]), pairs))
    return out


def frank_summaries(path: Path) -> list[tuple[str, int, list[Pair]]]:
    """Every FRANK summary as ``(dataset, label, its sentence pairs)``."""
    from ..corpora.frank import clean_summary

    out: list[tuple[str, int, list[Pair]]] = []
    for line in path.open(encoding="utf-8"):
        if not line.strip():
            continue
        row = json.loads(line)
        article = row["article"]
        sents = _sentences(article)
        index = SentenceIndex(sents)
        pairs = [
            Pair(s, tuple(sents[j] for j in index.top(s, EVIDENCE_K)), article, -1, "frank")
            for s in _sentences(clean_summary(row["summary"]))
        ]
        out.append((str(row.get("dataset") or "all"), int(row["label"]), pairs))
    return out


@dataclass
class _Scored:
    """Per summary: group (dataset or domain), label, and per sentence whether the
    rules alone make it not supported, and its feature vector."""

    group: list[str]
    label: np.ndarray
    hard: list[np.ndarray]
    x: list[np.ndarray]


def _score_summaries(summaries: list[tuple[str, int, list[Pair]]]) -> _Scored:
    from . import consistency

    with consistency.encodings_cached():
        return _score_summaries_cached(summaries)


def _score_summaries_cached(summaries: list[tuple[str, int, list[Pair]]]) -> _Scored:
    from . import consistency

    enc = consistency.encoder()
    group, labels, hard, xs = [], [], [], []
    n_features = len(consistency.FEATURES)
    for n, (name, label, pairs) in enumerate(summaries):
        rows, flags = [], []
        for p in pairs:
            found = support.rule_findings(p.statement, " ".join(p.evidence), p.article)
            # what the rules decide alone: hard evidence, or a precise finding the
            # scorer cannot lift (either way the sentence is not supported)
            flags.append(found.hard or found.firm != "supported")
            rows.append(consistency.features(p.statement, p.evidence, p.article, enc))
        group.append(name)
        labels.append(label)
        hard.append(np.array(flags, dtype=bool))
        xs.append(np.array(rows, dtype=float).reshape(-1, n_features))
        if n % 500 == 0:
            log.info("  scored %d/%d summaries", n, len(summaries))
    return _Scored(group, np.array(labels), hard, xs)


def _summary_scores(scored: _Scored, prob: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Per summary the lowest sentence probability (0 for a sentence the rules alone
    make not supported; 1 for a summary with no sentence)."""
    out = np.ones(len(scored.x))
    for i, (x, hard) in enumerate(zip(scored.x, scored.hard, strict=True)):
        if len(x):
            out[i] = float(np.where(hard, 0.0, prob(x)).min())
    return out


def balanced_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Balanced accuracy of "unfaithful when score < threshold" against ``labels``
    (1 = faithful); a class that is absent is left out of the mean."""
    flagged = scores < threshold
    rates = []
    if (labels == 0).any():
        rates.append(float(flagged[labels == 0].mean()))
    if (labels == 1).any():
        rates.append(float((~flagged[labels == 1]).mean()))
    return sum(rates) / len(rates) if rates else 0.0


def macro_balanced_accuracy(
    scores: np.ndarray, labels: np.ndarray, groups: Sequence[str], threshold: float
) -> dict[str, float]:
    """Balanced accuracy per group and their mean under key ``"macro"``."""
    names = sorted(set(groups))
    g = np.array(groups)
    out = {n: balanced_accuracy(scores[g == n], labels[g == n], threshold) for n in names}
    out["macro"] = sum(out[n] for n in names) / len(names) if names else 0.0
    return out


def choose_threshold(scores: np.ndarray, labels: np.ndarray, groups: Sequence[str]) -> float:
    """The threshold in (0, 1), on a grid of 0.01, with the best macro balanced accuracy
    (the lowest such threshold on ties)."""
    grid = [round(0.01 * k, 2) for k in range(1, 100)]
    return max(
        grid, key=lambda t: (macro_balanced_accuracy(scores, labels, groups, t)["macro"], -t)
    )


class _Model:
    def __init__(self, x: np.ndarray, y: np.ndarray, l2: float) -> None:
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0) + 1e-6
        self.w = fit_logistic((x - self.mean) / self.scale, y, l2=l2)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = self.w[0] + ((x - self.mean) / self.scale) @ self.w[1:]
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -40, 40))))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``factdesk train faithfulness``."""
    data = Path("..") / "shared" / "data"
    parser.add_argument("--news", type=Path, default=data / "polnear" / "train" / "text")
    parser.add_argument("--summedits", type=Path, default=data / "summedits")
    parser.add_argument(
        "--frank",
        type=Path,
        default=data / "frank" / "valid.jsonl",
        help="FRANK file the thresholds are chosen on (never a test split)",
    )
    parser.add_argument("--per-article", type=int, default=4)
    parser.add_argument("--max-articles", type=int, default=300)
    # strong: the synthetic edits are easier than real errors, so spread the weight
    parser.add_argument("--l2", type=float, default=10_000.0)
    parser.add_argument(
        "--train-on-summedits",
        action="store_true",
        help="also fit on SummEdits (its figures are then leave-one-domain-out)",
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "consistency.json")
    parser.add_argument("--cache", type=Path, help="pickle file to keep computed features in")


def _features(pairs: Sequence[Pair]) -> np.ndarray:
    from . import consistency

    enc = consistency.encoder()
    rows = []
    with consistency.encodings_cached():  # article sentences recur across pairs
        for n, p in enumerate(pairs):
            rows.append(consistency.features(p.statement, p.evidence, p.article, enc))
            if n % 1000 == 0:
                log.info("  features %d/%d", n, len(pairs))
    return np.array(rows, dtype=float)


def train(args: argparse.Namespace) -> int:
    """Build the pairs, fit the model, choose thresholds on FRANK, report
    leave-one-domain-out SummEdits figures, write the weights file."""
    import pickle

    from . import consistency

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)  # the CLI's root logger only shows warnings
    t0 = time.time()
    if not args.frank.is_file():
        log.error("%s: no such FRANK file (the thresholds are chosen on it)", args.frank)
        return 2
    cached: dict[str, object] = {}
    if args.cache and args.cache.exists():
        with args.cache.open("rb") as fh:
            cached = pickle.load(fh)  # a file this command wrote
        log.info("features from %s", args.cache)
    rng = random.Random(args.seed)

    def keep() -> None:
        if args.cache:
            with args.cache.open("wb") as fh:
                pickle.dump(cached, fh)

    if "news_x" not in cached:
        paths = sorted(args.news.glob("*.txt"))[: args.max_articles]
        news = news_pairs(paths, rng, args.per_article)
        log.info("%d news pairs (%.0fs)", len(news), time.time() - t0)
        cached["news_x"] = _features(news)
        cached["news_y"] = np.array([p.label for p in news], dtype=float)
        keep()
    if "edits_x" not in cached:
        edits = summedits_pairs(args.summedits)
        log.info("%d SummEdits pairs (%.0fs)", len(edits), time.time() - t0)
        cached["edits_x"] = _features(edits)
        cached["edits_y"] = np.array([p.label for p in edits], dtype=float)
        cached["edits_domain"] = [p.source for p in edits]
        keep()
    if "frank" not in cached:
        log.info("scoring FRANK summaries (%.0fs)", time.time() - t0)
        cached["frank"] = _score_summaries(frank_summaries(args.frank))
        keep()
    if "summedits" not in cached:
        log.info("scoring SummEdits summaries (%.0fs)", time.time() - t0)
        cached["summedits"] = _score_summaries(summedits_summaries(args.summedits))
        keep()
    news_x, news_y = cached["news_x"], cached["news_y"]
    edits_x, edits_y = cached["edits_x"], cached["edits_y"]
    domains = np.array(cached["edits_domain"])
    frank: _Scored = cached["frank"]  # type: ignore[assignment]
    summedits: _Scored = cached["summedits"]  # type: ignore[assignment]
    assert isinstance(news_x, np.ndarray) and isinstance(edits_x, np.ndarray)
    assert isinstance(news_y, np.ndarray) and isinstance(edits_y, np.ndarray)

    def fit(keep: np.ndarray) -> tuple[_Model, float]:
        x = np.vstack([news_x, edits_x[keep]])
        y = np.concatenate([news_y, edits_y[keep]])
        model = _Model(x, y, args.l2)
        threshold = choose_threshold(_summary_scores(frank, model), frank.label, frank.group)
        return model, threshold

    def on_domain(domain: str, model: _Model, threshold: float) -> float:
        mask = np.array(summedits.group) == domain
        sub = _Scored(
            [g for g, m in zip(summedits.group, mask, strict=True) if m],
            summedits.label[mask],
            [h for h, m in zip(summedits.hard, mask, strict=True) if m],
            [x for x, m in zip(summedits.x, mask, strict=True) if m],
        )
        return round(balanced_accuracy(_summary_scores(sub, model), sub.label, threshold), 4)

    everything = np.ones(len(domains), dtype=bool)
    model, threshold = fit(everything if args.train_on_summedits else ~everything)
    per_domain: dict[str, float] = {}
    for domain in sorted(set(summedits.group)):
        if args.train_on_summedits:  # leave the domain out, as if it were new
            held_out, held_threshold = fit(domains != domain)
            per_domain[domain] = on_domain(domain, held_out, held_threshold)
        else:
            per_domain[domain] = on_domain(domain, model, threshold)
        log.info("SummEdits %-12s balanced accuracy %.3f", domain, per_domain[domain])
    if per_domain:
        per_domain["macro"] = round(sum(per_domain.values()) / len(per_domain), 4)
    frank_scores = _summary_scores(frank, model)
    on_frank = macro_balanced_accuracy(frank_scores, frank.label, frank.group, threshold)
    log.info("FRANK at %.2f: %s", threshold, {k: round(v, 3) for k, v in on_frank.items()})
    key = "leave_one_domain_out" if args.train_on_summedits else "not_trained_on"
    weights = consistency.Weights(
        version=f"lr-s{args.seed}-n{len(news_y)}" + ("-se" if args.train_on_summedits else ""),
        features=consistency.FEATURES,
        mean=tuple(float(v) for v in model.mean),
        scale=tuple(float(v) for v in model.scale),
        coef=tuple(float(v) for v in model.w[1:]),
        intercept=float(model.w[0]),
        supported_at=threshold,
        # the scorer alone only ever flags (partially_supported); rejecting a claim
        # takes a rule finding: an English encoder on other languages, or a style it
        # never saw, scores low without the statement being false
        unsupported_below=0.0,
        evaluation={
            "frank_valid_balanced_accuracy": {k: round(v, 4) for k, v in on_frank.items()},
            f"summedits_{key}_balanced_accuracy": per_domain,
            "l2": args.l2,
        },
    )
    for name, c in zip(consistency.FEATURES, weights.coef, strict=True):
        log.info("  %-26s %+.3f", name, c)
    args.out.write_text(json.dumps(weights.to_json(), indent=1) + "\n", encoding="utf-8")
    log.info("wrote %s (%.0fs)", args.out, time.time() - t0)
    return 0
