"""Figures (numbers with what they count, their source and time) and their conflicts."""

from __future__ import annotations

import re
from collections import defaultdict

from service.analyzers._spans import words
from service.analyzers.findings import (
    Attribution,
    Figure,
    FigureConflict,
    TextSpan,
    UncertaintyCue,
)
from service.support import NUMBER_WORDS
from service.text import DISPLAY_ROLES, Document

_UNITS = {
    "hundred": 1e2,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "m": 1e6,
    "bn": 1e9,
    "k": 1e3,
}
_SCALE_WORDS = frozenset({"hundred", "thousand", "million", "billion"})
_WORDS = {
    **{w: v for w, v in NUMBER_WORDS.items() if v >= 2 and w not in _SCALE_WORDS},
    "a dozen": 12,
    "a hundred": 100,
    "a thousand": 1000,
    "one hundred": 100,
    "one thousand": 1000,
    "a million": 1e6,
    "one million": 1e6,
}
_NUMBER = re.compile(
    r"(?<![\w.,\-/])(?P<cur>[$€£])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s*(?P<unit>hundred|thousand|million|billion|trillion|bn|m|k)\b)?"
    r"(?P<pct>\s*(?:%|percent|per\s+cent))?(?![\w\-]|[.,]\d)"
    r"|(?<![\w\-])(?P<word>"
    + "|".join(sorted((re.escape(w).replace(r"\ ", r"\s+") for w in _WORDS), key=len, reverse=True))
    + r")(?:\s+(?P<wunit>hundred|thousand|million|billion))?(?![\w\-])",
    re.IGNORECASE,
)
_MAYBE_NUMBER = re.compile(r"\d")
_LETTERS = re.compile(r"[a-z]+")
_WORD_NUMBER_FIRST = frozenset(w.split()[0] for w in _WORDS)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
_DATE_BEFORE = re.compile(r"(?:" + _MONTHS + r")\s*$")
_TIME = re.compile(
    r"\b(?:(?:in\s+)?(?:late|early|mid-?)\s*(?:" + _MONTHS + r")|(?:on\s+)?(?:Monday|Tuesday|"
    r"Wednesday|Thursday|Friday|Saturday|Sunday)|(?:last|this|next)\s+(?:week|month|year|"
    r"weekend)|yesterday|today|in\s+recent\s+(?:days|weeks|months)|(?:in\s+)?(?:"
    + _MONTHS
    + r")(?:\s+\d{1,2})?(?:,?\s+\d{4})?|(?:in|since|by)\s+(?:19|20)\d\d)\b"
)
_STOP = frozenset(
    words(
        """
    the a an of in on at to for from by with and or but that which who had have has is
    are was were be been being will would could may might should can do did does than as
    it its their his her our this these those per each every more less percent remained
    fled arrived arriving taken said says
    """
    )
)
#: What happened to the people a figure counts, from the words of its clause.
_STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(
        words("dead died die killed deaths death fatalities perished bodies lives"), "dead"
    ),
    **dict.fromkeys(words("missing unaccounted disappeared"), "missing"),
    **dict.fromkeys(words("injured wounded hurt injuries hospitalised hospitalized"), "injured"),
    **dict.fromkeys(
        words("evacuated displaced homeless shelters shelter evacuees fled rehoused"),
        "displaced",
    ),
    **dict.fromkeys(words("arrested detained held"), "detained"),
}
#: Nouns that count people (a status only applies to these, or to an unnamed count).
_PEOPLE = frozenset(
    words(
        """
    people persons civilians residents children adults soldiers troops fighters migrants
    refugees workers passengers victims patients students protesters demonstrators
    villagers inhabitants men women families individuals casualties miners sailors
    """
    )
)
#: "the number of missing at", "the death toll at": the status named before the figure.
_STATUS_BEFORE = re.compile(
    r"\b(?:number|count|tally|toll|total)\s+of\s+(?P<w1>[a-z]+)\b[^,;.\d]{0,25}$"
    r"|\b(?P<w2>death|injury|casualty)\s+(?:toll|count|tally)\b[^,;.\d]{0,25}$",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,;:]|\.(?:\s|$)|\s(?:and|but|while|whereas)\s|\d")
_COUNTED = re.compile(r"\s+(?:(?:more|additional|other|new)\s+)?([A-Za-z][a-z\-]{2,})")
_APPROX_GAP = 30


def _value(m: re.Match[str]) -> float | None:
    if m.group("num") is not None:
        try:
            v = float(m.group("num").replace(",", ""))
        except ValueError:
            return None
        unit = (m.group("unit") or "").lower()
        return v * _UNITS.get(unit, 1.0)
    word = " ".join(m.group("word").lower().split())
    base = float(_WORDS.get(word, 0))
    wunit = (m.group("wunit") or "").lower()
    return base * _UNITS.get(wunit, 1.0) if base else None


def _is_date_or_year(text: str, m: re.Match[str]) -> bool:
    num = m.group("num")
    if num is None:
        return False
    if m.group("cur") or m.group("pct") or m.group("unit"):
        return False
    if re.fullmatch(r"(?:1[89]|20)\d\d", num):
        return True  # a year
    before = text[max(0, m.start() - 12) : m.start()]
    return bool(_DATE_BEFORE.search(before)) and len(num) <= 2


def _counted(text: str, m: re.Match[str], sent_end: int) -> str | None:
    if m.group("pct"):
        return "percent"
    if m.group("cur"):
        return "money"
    c = _COUNTED.match(text, m.end(), sent_end)
    if c is None:
        return None
    word = c.group(1).lower()
    if word in _STOP or word.endswith("ly"):
        return None
    return word


def _status(text: str, m: re.Match[str], counted: str | None, lo: int, hi: int) -> str | None:
    """What happened to the people the figure ``m`` counts ("47 people had been
    confirmed dead" -> dead), from its own clause: the words after it up to the clause's
    end or the next number, or a "number of missing"/"death toll" right before it."""
    if counted is not None and counted not in _PEOPLE:
        return None
    before = _STATUS_BEFORE.search(text[max(lo, m.start() - 60) : m.start()])
    if before is not None:
        word = (before.group("w1") or before.group("w2") or "").lower()
        if word in _STATUS_WORDS:
            return _STATUS_WORDS[word]
    end = _CLAUSE_END.search(text, m.end(), hi)
    for w in _LETTERS.finditer(text[m.end() : end.start() if end else hi].lower()):
        status = _STATUS_WORDS.get(w.group(0))
        if status is not None:
            return status
    return None


def _norm(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def find_figures(
    doc: Document,
    attributions: tuple[Attribution, ...],
    cues: tuple[UncertaintyCue, ...],
) -> tuple[Figure, ...]:
    """Every number in the kept sentences of ``doc`` that is not a date, year or part
    of a compound (``48-hour``), with its counted noun, source, time and whether it is
    approximate. ``source`` is the speaker of the narrowest attribution whose content
    holds the number. A number with no counted noun in a sentence that speaks of a
    ``total``/``number``/``figure`` inherits the counted noun of the previous figure."""
    text = doc.text
    out: list[Figure] = []
    approx_cues: dict[str, list[UncertaintyCue]] = defaultdict(list)
    for c in cues:
        if c.type in ("approximation", "estimate"):
            approx_cues[c.sentence_id].append(c)
    reported = {c.sentence_id for c in cues if c.type == "reported"}
    last_counted: str | None = None
    by_sentence: dict[str, list[Attribution]] = defaultdict(list)
    for a in attributions:
        for sid in a.sentence_ids:
            by_sentence[sid].append(a)
    for sent in doc.sentences:
        if doc.paragraph_of(sent).role in DISPLAY_ROLES:
            continue
        if not _MAYBE_NUMBER.search(sent.text) and not (
            _WORD_NUMBER_FIRST & set(_LETTERS.findall(sent.text.lower()))
        ):
            continue
        sent_counted: str | None = None
        for m in _NUMBER.finditer(text, sent.start, sent.end):
            if _is_date_or_year(text, m):
                continue
            if m.end() < sent.end and text[m.end()] == "-":
                continue
            value = _value(m)
            if value is None:
                continue
            start, end = m.start(), m.end()
            counted = _counted(text, m, sent.end)
            status = _status(text, m, counted, sent.start, sent.end)
            if status is not None:
                # "47 people had been confirmed dead and 112 were missing"
                counted = counted or sent_counted or "people"
            elif counted is None and re.search(
                r"\b(?:total|number|figure|toll|tally|count)\b", sent.text, re.IGNORECASE
            ):
                counted = last_counted
            if counted is not None and counted not in ("percent", "money"):
                last_counted = counted
                sent_counted = counted
            holders = [
                a
                for a in by_sentence.get(sent.id, ())
                if a.content.start <= start and end <= a.content.end
            ]
            # the narrowest attribution with a speaker, else the narrowest
            holder = min(
                holders,
                key=lambda a: (a.speaker_name is None, a.content.end - a.content.start),
                default=None,
            )
            source = holder.speaker_name if holder else None
            approximate = (
                any(
                    c.span.end <= start and start - c.span.end <= _APPROX_GAP
                    for c in approx_cues.get(sent.id, ())
                )
                or sent.id in reported
            )
            lo, hi = sent.start, sent.end
            if holder is not None:
                parts = [p for p in (holder.source, holder.cue, holder.content) if p]
                lo = max(lo, min(p.start for p in parts))
                hi = min(hi, max(p.end for p in parts))
            times = [(abs(t.start() - start), t.group(0)) for t in _TIME.finditer(text, lo, hi)]
            time = min(times)[1] if times else None
            out.append(
                Figure(
                    span=TextSpan(start, end, text[start:end]),
                    value=value,
                    counted=counted,
                    source=source,
                    time=time,
                    sentence_id=sent.id,
                    approximate=approximate,
                    status=status,
                )
            )
    return tuple(out)


def find_conflicts(figures: tuple[Figure, ...]) -> tuple[FigureConflict, ...]:
    """Groups of hedged figures (approximate, estimated or reported) that count the
    same thing with different values from at least two different sources.

    Guarantees: every group has ≥ 2 distinct values and ≥ 2 distinct non-empty sources;
    figures keep text order."""
    groups: dict[str, list[Figure]] = defaultdict(list)
    by_status: dict[str, list[Figure]] = defaultdict(list)
    for f in figures:
        if not f.counted or f.counted in ("percent", "money") or not f.source:
            continue
        if f.approximate:
            groups[_norm(f.counted)].append(f)
        if f.status is not None:
            by_status[f.status].append(f)
    out: list[FigureConflict] = []
    taken: set[tuple[int, int]] = set()
    for status, group in by_status.items():
        # the same people in the same state ("dead"): firm figures conflict too
        if len({f.value for f in group}) >= 2 and len({f.source for f in group}) >= 2:
            noun = group[0].counted or "people"
            out.append(FigureConflict(quantity=f"{noun} {status}", figures=tuple(group)))
            taken.update((f.span.start, f.span.end) for f in group)
    for quantity, group in groups.items():
        group = [f for f in group if (f.span.start, f.span.end) not in taken]
        statuses = {f.status for f in group}
        if None not in statuses and len(statuses) >= 2:
            continue  # every figure counts people in another state: no common quantity
        if len({f.value for f in group}) >= 2 and len({f.source for f in group}) >= 2:
            out.append(FigureConflict(quantity=quantity, figures=tuple(group)))
    out.sort(key=lambda c: c.figures[0].span.start)
    return tuple(out)
