"""CPU time of one article's deterministic analysis: ``prepare`` + ``analyzers.analyze``
(the spaCy parse, the attribution tagger and rules, hedges, figures), after warm-up.

Prints the median and the spread of process CPU milliseconds for the seed article and
for a 5,000-word article. Run: ``python -m benchmarks.analyzers_cpu [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from service.analyzers import analyze
from service.learned import attribution
from service.text import prepare

from .common import article_of_words, seed_text, word_count


def cpu_ms(text: str, runs: int) -> dict[str, float]:
    """Median, min and max CPU ms of ``prepare`` + ``analyze`` over ``runs`` runs."""
    samples: list[float] = []
    for _ in range(runs):
        t0 = time.process_time()
        analyze(prepare(text))
        samples.append((time.process_time() - t0) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


def main() -> None:
    """Measure and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    attribution.warm_up()
    seed = seed_text()
    long = article_of_words(5_000)
    out = {
        "seed": {"words": word_count(seed), **cpu_ms(seed, args.runs)},
        "5000_words": {"words": word_count(long), **cpu_ms(long, max(3, args.runs // 3))},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
