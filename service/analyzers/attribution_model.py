"""Attributions from the trained tagger: tagged cue, source and content runs, paired.

The tagger (``service.learned.attribution``) labels tokens; this module turns the
labelled runs of one paragraph into attributions. A cue takes the content run and
the source run that hang off it in the parse (a token whose chain of heads reaches the
cue), else the nearest ones in its sentence; each content run belongs to one cue at
most. A content run left without a cue continues the quote before it (``“…,” he said,
“…”``) or stands alone, with the source of its sentence if there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.analyzers.findings import SpeakerType, TextSpan
from service.learned.attribution import Tagged, Token
from service.text import Document

Run = tuple[int, int]  # token indexes [first, last + 1) of one paragraph

_OPEN_QUOTES = "“\"«„'‘"
_HEAD_STEPS = 4


@dataclass(slots=True)
class Proposed:
    """One attribution the tagger proposes (``continues``: index of the quoted
    attribution this quote continues)."""

    source: TextSpan | None
    cue: TextSpan | None
    content: TextSpan
    direct: bool
    continues: int | None = None


def runs(tags: Sequence[str]) -> list[Run]:
    """The B/I runs of ``tags`` (an I after O starts a run)."""
    out: list[Run] = []
    start: int | None = None
    for k, tag in enumerate(tags):
        if tag == "B" or (tag == "I" and start is None):
            if start is not None:
                out.append((start, k))
            start = k
        elif tag == "O" and start is not None:
            out.append((start, k))
            start = None
    if start is not None:
        out.append((start, len(tags)))
    return out


def _reaches(seq: Sequence[Token], run: Run, target: Run, steps: int = _HEAD_STEPS) -> bool:
    """True when a token of ``run`` has ``target`` among its first ``steps`` heads."""
    for k in range(*run):
        j = k
        for _ in range(steps):
            h = seq[j].head
            if h == j:
                break
            if target[0] <= h < target[1]:
                return True
            j = h
    return False


def _sents(seq: Sequence[Token], run: Run) -> set[int]:
    return {seq[k].sent for k in range(*run)}


def _gap(a: Run, b: Run) -> int:
    return max(0, b[0] - a[1], a[0] - b[1])


def _cost(seq: Sequence[Token], cue: Run, other: Run, near: int) -> tuple[int, int] | None:
    """How well ``other`` fits ``cue`` (lower is better), or ``None`` when it cannot
    belong to it: not in its parse, and more than ``near`` sentences away."""
    if _reaches(seq, other, cue) or _reaches(seq, cue, other):
        return (0, _gap(cue, other))
    cue_sent = seq[cue[0]].sent
    dist = min(abs(s - cue_sent) for s in _sents(seq, other))
    if dist > near:
        return None
    return (1 + dist, _gap(cue, other))


_SUBJECTS = frozenset(["nsubj", "nsubjpass"])
_NOMINALS = frozenset(["PROPN", "NOUN", "PRON"])


#: A cue with no subject of its own that hangs off a verb this way shares that verb's
#: subject: "Trump tweeted, saying …" (advcl), "decided to order …" (xcomp), "laughed
#: and said …" (conj).
_SHARES_SUBJECT = frozenset(["advcl", "xcomp", "conj"])


def _subject_of(seq: Sequence[Token], verb: Run) -> int | None:
    return next(
        (
            k
            for k, t in enumerate(seq)
            if t.dep in _SUBJECTS
            and verb[0] <= t.head < verb[1]
            and not verb[0] <= k < verb[1]
            and t.pos in _NOMINALS
        ),
        None,
    )


def _subject(seq: Sequence[Token], cue: Run, content: Run) -> Run | None:
    """The phrase the parse makes the subject of the cue (``nsubj`` of a cue token, a
    noun or pronoun, with everything below it; for a cue with none that hangs off a
    verb as in :data:`_SHARES_SUBJECT`, that verb's), when it lies outside the cue and
    the content: the speaker of a cue whose source the tagger left unlabelled."""
    subj = _subject_of(seq, cue)
    if subj is None and (top := _head(seq, cue)).dep in _SHARES_SUBJECT:
        subj = _subject_of(seq, (top.head, top.head + 1))
    if subj is None:
        return None
    below = [k for k in range(len(seq)) if _reaches(seq, (k, k + 1), (subj, subj + 1), 19)]
    run = (min([subj, *below]), max([subj, *below]) + 1)
    if any(not (run[1] <= other[0] or other[1] <= run[0]) for other in (cue, content)):
        return None
    return run


def _span(doc: Document, seq: Sequence[Token], run: Run) -> TextSpan:
    a, b = seq[run[0]].start, seq[run[1] - 1].end
    return TextSpan(a, b, doc.text[a:b])


def _direct(seq: Sequence[Token], run: Run, text: str) -> bool:
    return text[:1] in _OPEN_QUOTES or all(seq[k].in_quote for k in range(*run))


def propose(doc: Document, tagged: Sequence[Tagged]) -> list[Proposed]:
    """The attributions the tagger's labels describe, paragraph by paragraph, in text
    order. Every span is a slice of ``doc.text``."""
    out: list[Proposed] = []
    for para in tagged:
        seq = para.tokens
        cues, sources, contents = runs(para.cue), runs(para.source), runs(para.content)
        pairs: list[tuple[tuple[int, int], int, int]] = []
        for ci, cue in enumerate(cues):
            for ki, crun in enumerate(contents):
                cost = _cost(seq, cue, crun, 1)
                if cost is not None:
                    pairs.append((cost, ci, ki))
        content_of: dict[int, int] = {}
        taken: set[int] = set()
        for _, ci, ki in sorted(pairs):
            if ci not in content_of and ki not in taken:
                content_of[ci] = ki
                taken.add(ki)
        found: list[tuple[int, Proposed]] = []
        for ci, cue in enumerate(cues):
            if ci not in content_of:
                continue
            options = [
                (cost, si)
                for si, src in enumerate(sources)
                if (cost := _cost(seq, cue, src, 0)) is not None
            ]
            crun = contents[content_of[ci]]
            if options:
                source: TextSpan | None = _span(doc, seq, sources[min(options)[1]])
            else:
                subj = _subject(seq, cue, crun)
                source = _span(doc, seq, subj) if subj is not None else None
            content = _span(doc, seq, crun)
            found.append(
                (
                    crun[0],
                    Proposed(
                        source,
                        _span(doc, seq, cue),
                        content,
                        _direct(seq, crun, content.text),
                    ),
                )
            )
        for ki, crun in enumerate(contents):
            if ki in taken:
                continue
            content = _span(doc, seq, crun)
            sent = seq[crun[0]].sent
            same = [s for s in sources if seq[s[0]].sent == sent]
            src = _span(doc, seq, min(same, key=lambda s: _gap(s, crun))) if same else None
            found.append((crun[0], Proposed(src, None, content, _direct(seq, crun, content.text))))
        for _, prop in sorted(found, key=lambda x: x[0]):
            if prop.cue is None and prop.direct and out:
                prev = out[-1]
                if prev.direct and prev.content.end <= prop.content.start:
                    gap = doc.text[prev.content.end : prop.content.start]
                    if gap.count("\n") <= 2:
                        root = prev.continues if prev.continues is not None else len(out) - 1
                        prop = Proposed(
                            prop.source or prev.source, prev.cue, prop.content, True, root
                        )
            out.append(prop)
    return out


_PERSON_PRONOUNS = frozenset(["he", "she", "i", "him", "her"])
_ORG_LABELS = frozenset(["ORG", "GPE", "NORP", "FAC"])


def locate(tagged: Sequence[Tagged], span: TextSpan) -> tuple[Sequence[Token], Run] | None:
    """The paragraph tokens and the token run that ``span`` covers, if parsed."""
    for para in tagged:
        seq = para.tokens
        if not seq or seq[0].start > span.start or seq[-1].end < span.start:
            continue
        idx = [k for k, t in enumerate(seq) if t.start < span.end and span.start < t.end]
        if idx:
            return seq, (idx[0], idx[-1] + 1)
    return None


#: Common-noun heads that name an institution ("the weather service", "the authority")
#: or a document ("the survey"): an unnamed body is an organization, not an anonymous
#: person; anonymity is for unnamed people ("a senior official", "sources").
_INSTITUTION_NOUNS = frozenset(
    [
        "service",
        "authority",
        "council",
        "ministry",
        "operator",
        "agency",
        "association",
        "company",
        "government",
        "department",
        "office",
        "police",
        "union",
        "party",
        "court",
        "commission",
        "committee",
        "bank",
        "group",
        "firm",
        "institute",
        "board",
        "administration",
        "army",
        "military",
        "force",  # "U.S.-backed forces", "the air force": a military body
        "parliament",
        "congress",
        "senate",
        "chamber",
        "federation",
        "organization",
        "organisation",
        "university",
        "hospital",
        "school",
        "club",
        "network",
        "utility",
        "regulator",
        "watchdog",
        "airline",
        "insurer",
        "coalition",
        "alliance",
        "trust",
        "foundation",
        "fund",
        "league",
        "industry",
        "manufacturer",
        "retailer",
        "supplier",
        "exchange",
        "corporation",
        "county",
        "city",
        "municipality",
        "state",
        "embassy",
        "mission",
        "prosecutor",
        "prosecution",
        "inspectorate",
        "tribunal",
        "cabinet",
    ]
)
_DOCUMENT_NOUNS = frozenset(
    [
        "survey",
        "poll",
        "report",
        "study",
        "data",
        "statement",
        "memo",
        "letter",
        "document",
        "filing",
        "analysis",
        "estimate",
        "estimates",
        "census",
        "record",
        "records",
        "audit",
        "review",
        "release",
        "transcript",
    ]
)


def _head(seq: Sequence[Token], run: Run) -> Token:
    """The token of ``seq[run]`` whose head lies outside the run (or is itself)."""
    return next(
        (seq[k] for k in range(*run) if not run[0] <= seq[k].head < run[1] or seq[k].head == k),
        seq[run[0]],
    )


def _nominal_head(seq: Sequence[Token], run: Run) -> Token:
    """The head of the source phrase ``seq[run]`` for typing it: the parse's head, or,
    when the parse attaches the phrase's first word elsewhere ("The weather service
    forecast …" read as one noun phrase), the phrase's last noun."""
    head = _head(seq, run)
    if head.pos in ("NOUN", "PROPN", "PRON"):
        return head
    return next((seq[k] for k in reversed(range(*run)) if seq[k].pos in ("NOUN", "PROPN")), head)


def needs_entities(rule_type: SpeakerType, seq: Sequence[Token], run: Run) -> bool:
    """Whether :func:`parsed_type` reads the entities of the source ``seq[run]`` (so the
    entity recogniser runs only on the phrases whose type depends on it)."""
    if rule_type in ("outlet", "document"):
        return False
    head = _nominal_head(seq, run)
    if head.pos == "PROPN":
        return True
    if head.pos != "NOUN" or rule_type != "unknown":
        return False
    noun = head.lower[:-1] if head.lower.endswith("s") and len(head.lower) > 4 else head.lower
    known = _DOCUMENT_NOUNS | _INSTITUTION_NOUNS
    return head.lower not in known and noun not in known


def parsed_type(
    rule_type: SpeakerType,
    seq: Sequence[Token],
    run: Run,
    ents: Sequence[tuple[int, int, str]],
) -> SpeakerType:
    """The speaker type of the source phrase ``seq[run]`` from its parse head and its
    entities (``ents``: absolute offsets), falling back on the rules' ``rule_type``
    where the parse says nothing more definite (outlets and documents are the rules').
    """
    if rule_type in ("outlet", "document"):
        return rule_type
    head = _nominal_head(seq, run)
    if head.pos == "PRON":
        return "person" if head.lower in _PERSON_PRONOUNS else rule_type
    label = next((lab for a, b, lab in ents if a <= head.start < b), None)
    if head.pos == "PROPN":
        if label == "PERSON":
            return "person"
        if label in _ORG_LABELS:
            return "organization"
        return rule_type if rule_type != "unknown" else "person"
    if head.pos == "NOUN":
        noun = head.lower[:-1] if head.lower.endswith("s") and len(head.lower) > 4 else head.lower
        if head.lower in _DOCUMENT_NOUNS or noun in _DOCUMENT_NOUNS:
            return "document"
        if head.lower in _INSTITUTION_NOUNS or noun in _INSTITUTION_NOUNS:
            return "organization"
    if head.pos == "NOUN" and rule_type == "unknown":
        if any(lab == "PERSON" for _, _, lab in ents):
            return "person"
        return "organization" if any(lab in _ORG_LABELS for _, _, lab in ents) else "anonymous"
    return rule_type
