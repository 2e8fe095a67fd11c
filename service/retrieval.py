"""Which sentences of an article say what a statement says? Lexical evidence retrieval.

Sentences are ranked by the rarity-weighted (idf) content words they share with the
statement, so a shared name or figure counts for more than a shared common word. The
same ranking serves the verifier (evidence for uncited summary sentences), the
consistency scorer's training data, and the grounding of claims.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from .support import content_words


class SentenceIndex:
    """The content words of each sentence and the idf of each word, built once per
    article so that many statements can be matched against it cheaply."""

    def __init__(self, sentences: Sequence[str]) -> None:
        self.words = [content_words(s) for s in sentences]
        df = Counter(w for ws in self.words for w in ws)
        n = len(self.words)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}

    def top(self, statement: str, k: int) -> list[int]:
        """Indices of the ``k`` sentences sharing the most idf-weighted content words
        with ``statement`` (ties to the earlier one; sentences sharing none are never
        returned), in reading order."""
        wanted = content_words(statement)
        # fsum is exact: scores, and so ties, never depend on set iteration order
        scored = [
            (math.fsum(self.idf[w] for w in wanted & ws), -i) for i, ws in enumerate(self.words)
        ]
        best = sorted((s for s in scored if s[0] > 0), reverse=True)[: max(k, 0)]
        return sorted(-i for _, i in best)


def best_matches(article_sentences: Sequence[str], statement: str, k: int) -> list[int]:
    """Indices into ``article_sentences`` of the (at most) ``k`` sentences that best match
    ``statement`` by shared rare content words, in reading order. Deterministic; empty
    when no sentence shares a content word with the statement."""
    return SentenceIndex(article_sentences).top(statement, k)
