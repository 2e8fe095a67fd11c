"""Uncertainty cues: hedges, beliefs, estimates, second-hand reports, conditions.

A lexicon of cue words and phrases, each with its type, plus a few context rules that
keep the common false friends out (``may`` the month, ``can`` of ability is kept out,
``about`` only before a number, ``whether`` always, ``if`` only as a conjunction).
"""

from __future__ import annotations

import re

from service.analyzers._spans import words
from service.analyzers.findings import CueType, TextSpan, UncertaintyCue
from service.text import Document

# Longer phrases first: the regex alternation takes the first that matches.
_LEXICON: dict[CueType, tuple[str, ...]] = {
    "speculation": (
        "may or may not",
        "may well",
        "may",
        "might",
        "could",
        "perhaps",
        "possibly",
        "possible",
        "possibility",
        "probably",
        "probable",
        "likely",
        "unlikely",
        "seems",
        "seem",
        "seemed",
        "seemingly",
        "appears to",
        "appear to",
        "appeared to",
        "apparently",
        "apparent",
        "presumably",
        "suggests",
        "suggest",
        "suggested",
        "suggesting",
        "indicates",
        "indicate",
        "imply",
        "implies",
        "implied",
        "unclear",
        "not clear",
        "uncertain",
        "unknown",
        "not known",
        "little is known",
        "potential",
        "potentially",
        "speculated",
        "speculate",
        "speculation",
        "rumored",
        "rumoured",
        "rumors",
        "rumours",
        "no evidence",
        "no proof",
        "questionable",
        "doubtful",
        "almost certainly",
        "would likely",
        "conceivably",
        "arguably",
        "feared",
        "fear",
        "fears",
        "if not",
        "in theory",
        "allegedly",
    ),
    "belief": (
        "pretty confident",
        "confident",
        "believed",
        "believe",
        "believes",
        "believing",
        "belief",
        "thought to",
        "think",
        "thinks",
        "considered",
        "consider",
        "considers",
        "regarded",
        "regard",
        "seen as",
        "viewed as",
        "assessed",
        "assumed",
        "assume",
        "assumes",
        "assumption",
        "supposed",
        "supposedly",
        "suppose",
        "presumed",
        "expected",
        "expect",
        "expects",
        "expectation",
        "suspected",
        "suspect",
        "hypothesis",
        "hypothesized",
        "deemed",
        "doubt",
        "doubts",
        "in our view",
        "feel",
        "felt",
        "putative",
        "inevitable",
    ),
    "estimate": (
        "estimated",
        "estimates",
        "estimate",
        "projected",
        "forecast",
        "roughly estimated",
    ),
    "approximation": (
        "no more than",
        "no fewer than",
        "no less than",
        "more than",
        "less than",
        "fewer than",
        "at least",
        "at most",
        "up to",
        "closer to",
        "close to",
        "nearly",
        "almost",
        "about",
        "around",
        "approximately",
        "roughly",
        "some",
        "over",
        "under",
        "upwards of",
        "as many as",
        "as few as",
        "or so",
        "or more",
        "thousands of",
        "hundreds of",
        "dozens of",
        "tens of thousands",
    ),
    "reported": (
        "reportedly",
        "claimed",
        "claims",
        "claim",
        "claiming",
        "alleged",
        "alleges",
        "allege",
        "alleging",
        "allegation",
        "allegations",
        "accused",
        "accusations",
        "according to",
        "purportedly",
        "purported",
        "said to be",
        "unverified",
        "unconfirmed",
        "could not be independently verified",
        "could not be verified",
        "cannot be independently verified",
        "rumor has it",
    ),
    "condition": ("if", "unless", "provided that", "as long as", "in case", "would"),
    "investigation": (
        "whether or not",
        "whether",
        "investigating",
        "investigate",
        "investigation",
        "under investigation",
        "to determine",
        "to verify",
        "to assess",
        "examining",
        "looking into",
        "probe",
        "probing",
        "evaluate",
        "wether",
    ),
}
_TYPE_OF = {p: t for t, phrases in _LEXICON.items() for p in phrases}
_PHRASE = re.compile(
    r"(?<![\w\-’'])(?:"
    + "|".join(
        re.escape(p.strip()).replace(r"\ ", r"\s+") for p in sorted(_TYPE_OF, key=len, reverse=True)
    )
    + r")(?![\w\-])",
    re.IGNORECASE,
)
# Approximators only count in front of a number ("about 20,000", not "about Syria").
_NUMBERISH = re.compile(
    r"\s*(?:\$|€|£)?\d|\s*(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion|half|a\s+third|a\s+quarter|dozens?|hundreds|"
    r"thousands|millions)\b",
    re.IGNORECASE,
)
_APPROX_ANYWHERE = frozenset(
    words(
        """
    approximately roughly or so or more thousands of hundreds of dozens of tens of
    thousands upwards of
    """
    )
)
_MONTH_MAY = re.compile(r"May\s+(?:\d|of\b|and\b|,)|(?:in|early|late|mid-|since|until|of)\s+May\b")


_FIRST_WORDS = frozenset(p.split()[0] for p in _TYPE_OF)
_WORD = re.compile(r"[A-Za-z]+")


def _phrase_matches(text: str, lo: int, hi: int) -> list[re.Match[str]]:
    """Non-overlapping ``_PHRASE`` matches in ``[lo, hi)`` (scanning words first is
    much faster than trying the whole alternation at every character)."""
    out: list[re.Match[str]] = []
    last_end = lo
    for w in _WORD.finditer(text, lo, hi):
        if w.start() < last_end or w.group(0).lower() not in _FIRST_WORDS:
            continue
        m = _PHRASE.match(text, w.start(), hi)
        if m is not None:
            out.append(m)
            last_end = m.end()
    return out


def _keep(text: str, m: re.Match[str], ctype: CueType, phrase: str) -> bool:
    start, end = m.start(), m.end()
    if ctype == "approximation" and phrase not in _APPROX_ANYWHERE:
        return _NUMBERISH.match(text, end) is not None
    if (
        phrase == "may"
        and text[start] == "M"
        and (_MONTH_MAY.match(text, start) or _MONTH_MAY.search(text, max(0, start - 7), end))
    ):
        return False  # the month
    if phrase in ("claim", "claims"):
        nxt = text[end : end + 6].lower()
        return nxt.startswith((" that", " to ")) or nxt.strip()[:1].isdigit()
    if phrase == "feel":
        return text[end : end + 6].lower().startswith((" that", " like"))
    if phrase in ("expected", "expect", "expects"):
        return bool(re.match(r"\s+(?:to|that)\b", text[end : end + 6]))
    if phrase == "fear":
        return bool(re.match(r"\s+(?:that|of|for)\b", text[end : end + 6]))
    if phrase in ("possible", "likely") and text[max(0, start - 3) : start].lower() == "as ":
        return False  # "as much as possible"
    if phrase == "would":
        return False  # future in the past ("he said he would go") in news, not a hedge
    if phrase == "suggest" and text[start - 4 : start].lower() == "to ":
        return False
    if phrase == "investigation":
        return bool(re.match(r"\s+(?:into|of)\b", text[end : end + 6]))
    return not (phrase == "consider" and text[end : end + 4].lower() == " the")


def find_cues(doc: Document) -> tuple[UncertaintyCue, ...]:
    """Every uncertainty cue in the kept sentences of ``doc``, in text order.

    Guarantees: each cue's span is a slice of ``doc.text`` inside its sentence; cues
    do not overlap one another.
    """
    text = doc.text
    out: list[UncertaintyCue] = []
    for sent in doc.sentences:
        for m in _phrase_matches(text, sent.start, sent.end):
            phrase = " ".join(m.group(0).lower().split()).replace("’", "'")
            ctype = _TYPE_OF.get(phrase)
            if ctype is None or not _keep(text, m, ctype, phrase):
                continue
            out.append(UncertaintyCue(TextSpan(m.start(), m.end(), m.group(0)), ctype, sent.id))
    return tuple(out)


def uncertain_sentences(cues: tuple[UncertaintyCue, ...]) -> frozenset[str]:
    """Ids of the sentences holding at least one cue."""
    return frozenset(c.sentence_id for c in cues)
