"""Train the attribution tagger (cue, source, content CRFs) on a PolNeAR split.

``factdesk train attribution PATH`` parses every article of the split, tags tokens
with the gold spans (BIO per layer), and trains three CRFs with L-BFGS and fixed
settings (CRF training is deterministic; the fold split that gives the source and
content taggers realistic, predicted cues is seeded). The cue features the second
stage trains on come from cue taggers that never saw the article (two folds), so
training sees the same kind of cues the tagger produces at run time.
"""

from __future__ import annotations

import argparse
import logging
import random
import tempfile
import time
from pathlib import Path

from service.corpora.polnear import _articles, parse_ann
from service.learned import sha256_file
from service.learned.attribution import (
    LAYERS,
    WEIGHTS,
    Token,
    base_features,
    bio,
    cue_features,
    pack,
)
from service.text import prepare

log = logging.getLogger(__name__)

Example = tuple[list[Token], dict[str, list[str]]]

#: L-BFGS settings (chosen on the dev split).
PARAMS: dict[str, float | int | bool] = {
    "c1": 1.0,
    "c2": 0.001,
    "max_iterations": 150,
    "feature.possible_transitions": True,
}
_LABEL = {"cue": "Cue", "source": "Source", "content": "Content"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``factdesk train attribution``."""
    parser.add_argument("path", help="a PolNeAR split directory (text/, attributions/)")
    parser.add_argument("--out", default=str(WEIGHTS), help="weights file to write")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--max-iterations", type=int, default=int(PARAMS["max_iterations"]))
    parser.add_argument("--jobs", type=int, default=1, help="CRFs fitted in parallel")


def examples(path: Path) -> list[list[Example]]:
    """Per article: each kept paragraph's tokens and gold BIO tags per layer."""
    from service.learned.attribution import tokens_of

    out: list[list[Example]] = []
    pairs = _articles(path)
    t0 = time.monotonic()
    for n, (txt, ann) in enumerate(pairs, 1):
        gold = parse_ann(ann.read_text(encoding="utf-8"))
        doc = prepare(txt.read_text(encoding="utf-8"))
        article: list[Example] = []
        for seq in tokens_of(doc):
            if seq:
                tags = {layer: bio(seq, gold[_LABEL[layer]]) for layer in LAYERS}
                article.append((seq, tags))
        out.append(article)
        if n % 100 == 0:
            log.info("parsed %d/%d articles (%.0f s)", n, len(pairs), time.monotonic() - t0)
    return out


def _fit(
    xs: list[list[list[str]]], ys: list[list[str]], params: dict[str, float | int | bool]
) -> bytes:
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=False)
    for x, y in zip(xs, ys, strict=True):
        trainer.append(x, y)
    trainer.set_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "m.crfsuite"
        trainer.train(str(model))
        return model.read_bytes()


_JOBS: dict[str, tuple[list[list[list[str]]], list[list[str]], dict[str, float | int | bool]]] = {}


def _fit_job(key: str) -> bytes:
    xs, ys, params = _JOBS[key]
    return _fit(xs, ys, params)


def _fit_many(
    jobs: dict[str, tuple[list[list[list[str]]], list[list[str]], dict[str, float | int | bool]]],
    processes: int,
) -> dict[str, bytes]:
    """Each job's model; with ``processes`` > 1, fitted in forked worker processes
    (each fit is deterministic, so the result does not depend on ``processes``)."""
    _JOBS.clear()
    _JOBS.update(jobs)
    try:
        if processes <= 1 or len(jobs) == 1:
            return {key: _fit_job(key) for key in jobs}
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(processes, len(jobs))) as pool:
            return dict(zip(jobs, pool.map(_fit_job, list(jobs)), strict=True))
    finally:
        _JOBS.clear()


def fit_all(
    articles: list[list[Example]],
    seed: int,
    params: dict[str, float | int | bool],
    processes: int = 1,
) -> dict[str, bytes]:
    """The three CRF model files trained on ``articles``."""
    import pycrfsuite

    seqs = [ex for art in articles for ex in art]
    bases = [base_features(seq) for seq, _ in seqs]
    t0 = time.monotonic()
    # predicted cues for the second stage: each half tagged by a model of the other half
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    fold = {a: k % 2 for k, a in enumerate(order)}
    owner = [fold[a] for a, art in enumerate(articles) for _ in art]
    cue_tags = [tags["cue"] for _, tags in seqs]
    jobs = {"cue": (bases, cue_tags, params)}
    for half in (0, 1):
        idx = [i for i in range(len(seqs)) if owner[i] != half]
        jobs[f"fold{half}"] = ([bases[i] for i in idx], [cue_tags[i] for i in idx], params)
    first = _fit_many(jobs, processes)
    log.info("cue CRF and its two folds trained (%.0f s)", time.monotonic() - t0)
    cues: list[list[bool]] = [[] for _ in seqs]
    for half in (0, 1):
        tagger = pycrfsuite.Tagger()
        tagger.open_inmemory(first[f"fold{half}"])
        for i in range(len(seqs)):
            if owner[i] == half:
                cues[i] = [t != "O" for t in tagger.tag(bases[i])]
    rich = [cue_features(seq, bases[i], cues[i]) for i, (seq, _) in enumerate(seqs)]
    del bases
    second = _fit_many(
        {
            layer: (rich, [tags[layer] for _, tags in seqs], params)
            for layer in ("source", "content")
        },
        processes,
    )
    log.info("source and content CRFs trained (%.0f s)", time.monotonic() - t0)
    return {"cue": first["cue"], **second}


def train(args: argparse.Namespace) -> int:
    """Train on the split at ``args.path`` and write the weights blob to ``args.out``."""
    logging.getLogger().setLevel(logging.INFO)
    path = Path(args.path)
    if not path.is_dir():
        log.error("%s is not a directory", path)
        return 2
    articles = examples(path)
    params = dict(PARAMS, max_iterations=args.max_iterations)
    models = fit_all(articles, args.seed, params, args.jobs)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pack(models))
    log.info("wrote %s (%d bytes, sha256 %s)", out, out.stat().st_size, sha256_file(out))
    return 0
