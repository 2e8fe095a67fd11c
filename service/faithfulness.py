"""Is a summary faithful to its article, when nobody says which sentences it rests on?

The summary is split into sentences; for each, the article sentences that share the most
(rarity-weighted) content words are retrieved as its evidence, and
:func:`service.support.check_support` judges it against them. The summary is faithful
only when every sentence is ``supported`` (the verifier's rule: nothing with an unmet
check passes as supported); every sentence keeps its own verdict and reasons, so an
editor sees which sentence failed and why.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .learned.consistency import encodings_cached
from .retrieval import SentenceIndex
from .schemas import Reason
from .support import RANK, Status, SupportCheck, check_support, words
from .text import Sentence, prepare

# A summary sentence often fuses facts from several article sentences (a name from one,
# the figure from another): five sentences carry them where three left a name or figure
# of a faithful sentence out, which the checks then read as missing from the evidence.
DEFAULT_TOP_K = 5

# Sentence ends that ``prepare`` leaves joined: lower-cased, tokenised text ("fled . the
# camp") and text pasted without a space after the stop ("fled.The camp").
_TOKENISED_END = re.compile(r"(?<=\s[.!?])\s+(?=\S)")
_GLUED_END = re.compile(r"(?<=[a-z0-9][.!?])(?=[\"'\u201c\u2018]?[A-Z][a-z])")
_MIN_WORDS = 3


@dataclass(frozen=True)
class Segment:
    """A sentence-like piece of a text; ``start``/``end`` index that text."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SentenceVerdict:
    """One summary sentence, the article segments retrieved as its evidence (in reading
    order), and the support check against them."""

    sentence: Segment
    evidence: tuple[Segment, ...]
    check: SupportCheck

    @property
    def status(self) -> Status:
        """``supported``, ``partially_supported`` or ``unsupported``."""
        return self.check.verification.status


@dataclass(frozen=True)
class FaithfulnessVerdict:
    """The verdict on a whole summary. ``status`` is the worst sentence status
    (``supported`` for an empty summary); ``faithful`` is true exactly when it is
    ``supported``; ``reasons`` repeats every reason of every sentence that is not
    supported, each prefixed with the sentence number."""

    status: Status
    faithful: bool
    sentences: tuple[SentenceVerdict, ...]
    reasons: tuple[Reason, ...]


def segments(text: str) -> list[Segment]:
    """Sentences of ``text`` with offsets into it (``text[s.start:s.end] == s.text``).
    Uses :func:`service.text.prepare`, then also splits at sentence ends it leaves joined
    (tokenised lower-case text, a missing space after the full stop). A fragment of
    fewer than three words is joined to the sentence before it."""
    doc = prepare(text)
    out: list[Segment] = []
    for sentence in doc.sentences:
        for seg in _split(text, sentence):
            # a fragment too short to state anything ("Pictured.") joins the one before
            if out and len(words(seg.text)) < _MIN_WORDS:
                out[-1] = Segment(out[-1].start, seg.end, text[out[-1].start : seg.end])
            else:
                out.append(seg)
    if not out and text.strip():
        start = len(text) - len(text.lstrip())
        end = len(text.rstrip())
        out.append(Segment(start, end, text[start:end]))
    return out


def _split(text: str, sentence: Sentence) -> list[Segment]:
    cuts = [sentence.start]
    for pattern in (_TOKENISED_END, _GLUED_END):
        cuts.extend(sentence.start + m.end() for m in pattern.finditer(sentence.text))
    cuts = [*sorted(set(cuts)), sentence.end]
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        piece = piece.strip()
        if piece:
            out.append(Segment(a + lead, a + lead + len(piece), piece))
    return out


def judge(
    summary: str, article: str, *, top_k: int = DEFAULT_TOP_K, learned: bool = True
) -> FaithfulnessVerdict:
    """Judge every sentence of ``summary`` against the ``top_k`` article sentences that
    support it best (:func:`service.retrieval.best_matches`), and the summary as a
    whole, with the product's verdict (:func:`service.support.check_support`; the rule
    checks alone with ``learned=False``). Deterministic; never reads or writes anything
    but its arguments. An empty summary is faithful (it asserts nothing)."""
    with encodings_cached():  # evidence sentences recur across a summary's sentences
        return _judge(summary, article, top_k, learned)


def _judge(summary: str, article: str, top_k: int, learned: bool) -> FaithfulnessVerdict:
    article_segments = segments(article)
    index = SentenceIndex([s.text for s in article_segments])
    verdicts: list[SentenceVerdict] = []
    reasons: list[Reason] = []
    for n, sentence in enumerate(segments(summary), start=1):
        evidence = tuple(article_segments[i] for i in index.top(sentence.text, top_k))
        check = check_support(
            sentence.text, " ".join(e.text for e in evidence), article, learned=learned
        )
        verdicts.append(SentenceVerdict(sentence, evidence, check))
        if check.verification.status != "supported":
            reasons.extend(
                Reason(code=r.code, message=f"sentence {n}: {r.message}")
                for r in check.verification.reasons
            )
    status: Status = max((v.status for v in verdicts), key=RANK.__getitem__, default="supported")
    return FaithfulnessVerdict(status, status == "supported", tuple(verdicts), tuple(reasons))
