"""Attribution tagger: cue, source and content spans labelled by trained CRFs.

The design follows BBC R&D's Citron: the article is parsed (``service.nlp``), every
token gets features from the parse (word, POS, dependency relation, its head and the
verb governing its clause, quotation state, sentence position), and linear-chain CRFs
label the tokens of each paragraph with BIO tags. The cue tagger runs first; the source
and content taggers also see where the cues are and how each token hangs off them in
the parse (``nsubj`` of a cue, inside its ``ccomp``, ...).

The three CRFs live in one weights file (``attribution-crf.bin``): a JSON header line
naming each model's byte length, then the models back to back, loaded in memory.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from service.learned import WEIGHTS_DIR, ComponentInfo, register, sha256_file
from service.text import DISPLAY_ROLES, Document

if TYPE_CHECKING:
    import pycrfsuite
    from spacy.tokens import Doc

NAME = "attribution"
VERSION = "crf-1"
WEIGHTS = WEIGHTS_DIR / "attribution-crf.bin"
#: The SHA-256 of the committed weights file; a test checks the file against it.
SHA256 = "c3ef1ca2dd453fb77977e3278331e50c8954f9712cf72f35ceecb1d27e353215"
LAYERS = ("cue", "source", "content")

_OPEN_Q = frozenset("“«„‘")
_CLOSE_Q = frozenset("”»’")
_BOTH_Q = frozenset({'"', "''", "``"})


class Token(NamedTuple):
    """One parsed token; ``start``/``end`` index ``doc.text``; ``head`` indexes the
    paragraph's token list (a root is its own head)."""

    start: int
    end: int
    lower: str
    pos: str
    tag: str
    dep: str
    head: int
    shape: str
    sent: int
    in_quote: bool


def _shape(text: str) -> str:
    if text[:1].isupper():
        return "X" if text.isupper() and len(text) > 1 else "Xx"
    if text[:1].isdigit():
        return "d"
    if text[:1].isalpha():
        return "x"
    return "p"


def _from_doc(sdoc: Doc, offset: int) -> list[Token]:
    kept = [t for t in sdoc if not t.is_space]
    index = {t.i: k for k, t in enumerate(kept)}
    out: list[Token] = []
    sent = -1
    inside = False
    for t in kept:
        if t.is_sent_start:
            sent += 1
        text = t.text
        was = inside
        if text in _OPEN_Q:
            inside = True
        elif text in _CLOSE_Q and text != "’":
            inside = False
        elif text in _BOTH_Q:
            inside = not inside
        out.append(
            Token(
                offset + t.idx,
                offset + t.idx + len(text),
                t.lower_,
                t.pos_,
                t.tag_,
                t.dep_,
                index.get(t.head.i, index[t.i]),
                _shape(text),
                sent,
                was or inside,
            )
        )
    return out


def tokens_of(doc: Document) -> list[list[Token]]:
    """The parsed tokens of each kept body paragraph of ``doc`` (titles, headings and
    captions are not prose the tagger reads; whitespace tokens are dropped)."""
    from service.nlp import parse_many

    spans = [
        (p.start, p.end) for p in doc.paragraphs if p.sentence_ids and p.role not in DISPLAY_ROLES
    ]
    parsed = parse_many(doc.text[a:b] for a, b in spans)
    return [_from_doc(sdoc, a) for (a, _), sdoc in zip(spans, parsed, strict=True)]


@lru_cache(maxsize=1 << 16)  # a pure function of one word: a vocabulary-sized memo
def _stem(word: str) -> str:
    """A crude stem ("pledged", "pledges", "pledging" -> "pledg"): the parser runs
    without its lemmatizer."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def _bucket(n: int) -> str:
    a = abs(n)
    b = str(a) if a <= 3 else "4-6" if a <= 6 else "7-12" if a <= 12 else "far"
    return ("-" if n < 0 else "+") + b


def _verb_ancestor(seq: Sequence[Token], i: int) -> tuple[int, str]:
    """The nearest verb above token ``i`` and the relation of the path's last step."""
    rel = seq[i].dep
    j = i
    for _ in range(20):
        h = seq[j].head
        if h == j:
            return -1, rel
        if seq[h].pos in ("VERB", "AUX"):
            return h, seq[j].dep
        j = h
    return -1, rel


_lexicon: frozenset[str] | None = None


def _cue_verbs() -> frozenset[str]:
    """The rules' reporting verbs (imported late: the rules module imports this one)."""
    global _lexicon
    if _lexicon is None:
        from service.analyzers.attributions import CUE_VERBS

        _lexicon = frozenset(CUE_VERBS) | {"according"}
    return _lexicon


def base_features(seq: Sequence[Token]) -> list[list[str]]:
    """Parse features of each token of one paragraph (no cue information)."""
    lex = _cue_verbs()
    n = len(seq)
    children: list[list[str]] = [[] for _ in range(n)]
    for k, t in enumerate(seq):
        if t.head != k:
            children[t.head].append(t.dep)
    out: list[list[str]] = []
    sent_first = [k == 0 or seq[k - 1].sent != t.sent for k, t in enumerate(seq)]
    sent_last = [k == n - 1 or seq[k + 1].sent != t.sent for k, t in enumerate(seq)]
    pos_in_sent = 0
    for k, t in enumerate(seq):
        pos_in_sent = 0 if sent_first[k] else pos_in_sent + 1
        h = seq[t.head]
        va, vrel = _verb_ancestor(seq, k)
        verb = seq[va].lower if va >= 0 else "-"
        f = [
            "b",
            "w=" + t.lower,
            "s3=" + t.lower[-3:],
            "st=" + _stem(t.lower),
            "p=" + t.pos,
            "t=" + t.tag,
            "d=" + t.dep,
            "sh=" + t.shape,
            "hw=" + h.lower,
            "hp=" + h.pos,
            "dhw=" + t.dep + "|" + _stem(h.lower),
            "dhp=" + t.dep + "|" + h.pos,
            "va=" + _stem(verb),
            "vr=" + vrel,
            "var=" + vrel + "|" + _stem(verb),
            "q=" + ("1" if t.in_quote else "0"),
            "sp=" + _bucket(pos_in_sent),
        ]
        if t.lower in lex:
            f.append("lex")
        if h.lower in lex:
            f.append("hlex=" + t.dep)
        if verb in lex:
            f.append("valex=" + vrel)
        if sent_first[k]:
            f.append("sf")
        if sent_last[k]:
            f.append("sl")
        if t.head == k:
            f.append("root")
        for c in set(children[k]):
            f.append("ch=" + c)
        for o in (-2, -1, 1, 2):
            j = k + o
            if 0 <= j < n:
                u = seq[j]
                f.append(f"{o}w={u.lower}")
                f.append(f"{o}p={u.pos}")
                if abs(o) == 1:
                    f.append(f"{o}d={u.dep}")
                    f.append(f"{o}q={int(u.in_quote)}")
            else:
                f.append(f"{o}w=<e>")
        out.append(f)
    return out


def cue_features(
    seq: Sequence[Token], base: Sequence[list[str]], cue: Sequence[bool]
) -> list[list[str]]:
    """``base`` plus how each token relates to the cue tokens ``cue`` marks."""
    n = len(seq)
    out: list[list[str]] = []
    cue_idx = [k for k in range(n) if cue[k]]
    for k, t in enumerate(seq):
        f = list(base[k])
        if cue[k]:
            f.append("iscue")
        same = [c for c in cue_idx if seq[c].sent == t.sent]
        if same:
            near = min(same, key=lambda c: abs(c - k))
            f.append("cd=" + _bucket(k - near))
            f.append("cw=" + seq[near].lower)
        else:
            f.append("cd=none")
        # the first cue above this token in the parse, and the relation leading to it
        j = k
        for _ in range(20):
            h = seq[j].head
            if h == j:
                break
            if cue[h]:
                f.append("uc=" + seq[j].dep)
                f.append("ucw=" + seq[j].dep + "|" + seq[h].lower)
                break
            j = h
        out.append(f)
    return out


def bio(seq: Sequence[Token], spans: Iterable[tuple[int, int]]) -> list[str]:
    """BIO tags of ``seq`` for character spans; longer spans win where spans nest."""
    tags = ["O"] * len(seq)
    for a, b in sorted(spans, key=lambda s: s[0] - s[1]):
        idx = [k for k, t in enumerate(seq) if t.start < b and a < t.end]
        if not idx or any(tags[k] != "O" for k in idx):
            continue
        tags[idx[0]] = "B"
        for k in idx[1:]:
            tags[k] = "I"
    return tags


def spans_of(seq: Sequence[Token], tags: Sequence[str]) -> list[tuple[int, int]]:
    """Character spans of the B/I runs in ``tags`` (an I after O starts a span)."""
    out: list[tuple[int, int]] = []
    cur: list[int] | None = None
    for t, tag in zip(seq, tags, strict=True):
        if tag == "B" or (tag == "I" and cur is None):
            if cur is not None:
                out.append((cur[0], cur[1]))
            cur = [t.start, t.end]
        elif tag == "I" and cur is not None:
            cur[1] = t.end
        elif cur is not None:
            out.append((cur[0], cur[1]))
            cur = None
    if cur is not None:
        out.append((cur[0], cur[1]))
    return out


@dataclass(frozen=True)
class Tagged:
    """One paragraph's tokens and the predicted tags of each layer."""

    tokens: list[Token]
    cue: list[str]
    source: list[str]
    content: list[str]


class Tagger:
    """The three CRFs of one weights blob, applied cue first."""

    def __init__(self, blob: bytes) -> None:
        import pycrfsuite

        head, _, rest = blob.partition(b"\n")
        sizes: dict[str, int] = json.loads(head)["models"]
        self._taggers: dict[str, pycrfsuite.Tagger] = {}
        self._lock = threading.Lock()
        # crfsuite reads the model from this memory for as long as the tagger lives
        self._buffers: list[bytes] = []
        pos = 0
        for layer in LAYERS:
            tagger = pycrfsuite.Tagger()
            self._buffers.append(rest[pos : pos + sizes[layer]])
            tagger.open_inmemory(self._buffers[-1])
            pos += sizes[layer]
            self._taggers[layer] = tagger

    def tag_seq(self, seq: Sequence[Token]) -> Tagged:
        """The predicted tags of one paragraph's tokens."""
        if not seq:
            return Tagged([], [], [], [])
        base = base_features(seq)
        with self._lock:  # a crfsuite tagger keeps per-call state
            cue = self._taggers["cue"].tag(base)
        rich = cue_features(seq, base, [c != "O" for c in cue])
        with self._lock:
            source = self._taggers["source"].tag(rich)
            content = self._taggers["content"].tag(rich)
        return Tagged(list(seq), cue, source, content)

    def tag(self, doc: Document) -> list[Tagged]:
        """The predicted tags of every kept paragraph of ``doc``."""
        return [self.tag_seq(seq) for seq in tokens_of(doc)]


def pack(models: dict[str, bytes]) -> bytes:
    """One weights blob holding the per-layer CRF model files."""
    head = json.dumps({"version": VERSION, "models": {k: len(models[k]) for k in LAYERS}})
    return head.encode() + b"\n" + b"".join(models[k] for k in LAYERS)


_lock = threading.Lock()
_tagger: Tagger | None = None


def tagger() -> Tagger:
    """The process-wide tagger over the committed weights (loaded once, registered)."""
    global _tagger
    if _tagger is None:
        with _lock:
            if _tagger is None:
                _tagger = Tagger(WEIGHTS.read_bytes())
                register(ComponentInfo(NAME, VERSION, sha256_file(WEIGHTS)))
    return _tagger


def warm_up() -> None:
    """Load the parser and the weights now (the app lifespan calls this at start-up)."""
    from service.nlp import warm_up as nlp_warm_up

    nlp_warm_up()
    tagger()
