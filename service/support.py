"""Does a piece of evidence support a statement? Checks an editor can read.

Numbers in the statement must occur in the evidence ("20,000" = "20000" = "twenty
thousand"), names must occur in the article, and the statement's content words must
mostly occur in the evidence. Used for claims and summary sentences alike, and by the
FRANK benchmark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .schemas import Reason, Verification
from .text import fold

_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[,\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_SCALED = re.compile(r"\s+(hundred|thousand|million|billion)\b", re.I)
_STOP_WORDS = """
a an the and or but if of to in on at by for with from as is are was were be been being
has have had do does did not no this that these those it its their they them he she his
her we our you your i me my there here which who whom whose what when where why how than
then so such very just also into over under about after before between will would can
could may might must shall should said says say told according
"""
_STOP = frozenset(_STOP_WORDS.split())
_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "dozen": 12,
}
_SCALE = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def numbers(text: str) -> set[float]:
    """Numeric values in ``text``: digits with separators and common number words."""
    values: set[float] = set()
    for m in _NUMBER.finditer(text):
        if _SCALED.match(text, m.end()):
            continue  # "20 thousand" is 20000, added below
        raw = re.sub(r"[,\u00a0 ]", "", m.group())
        try:
            values.add(float(raw))
        except ValueError:
            continue
    words = [w.lower() for w in _WORD.findall(text)]
    i = 0
    while i < len(words):
        if words[i] in _NUMBER_WORDS and words[i] not in _SCALE:
            total, current = 0.0, float(_NUMBER_WORDS[words[i]])
            j = i + 1
            while j < len(words) and words[j] in _NUMBER_WORDS:
                w = words[j]
                if w in _SCALE:
                    current *= _SCALE[w]
                    if _SCALE[w] >= 1000:
                        total, current = total + current, 0.0
                else:
                    current += _NUMBER_WORDS[w]
                j += 1
            values.add(total + current)
            i = j
            continue
        i += 1
    # "20 thousand", "1.5 million"
    for m in re.finditer(r"(\d+(?:\.\d+)?)" + _SCALED.pattern, text, re.I):
        values.add(float(m.group(1)) * _SCALE[m.group(2).lower()])
    return values


def content_words(text: str) -> set[str]:
    return {
        w.lower()[:6]
        for w in _WORD.findall(text)
        if w.lower() not in _STOP
        and w.lower() not in _NUMBER_WORDS
        and not w.isdigit()
        and len(w) > 1
    }


def proper_nouns(text: str) -> set[str]:
    """Capitalised words not at a sentence start (a cheap, language-agnostic proxy)."""
    names: set[str] = set()
    for m in _WORD.finditer(text):
        word = m.group()
        if not word[0].isupper() or word.lower() in _STOP:
            continue
        before = text[: m.start()].rstrip()
        if not before or before[-1] in ".!?:\"'\u201c\u2018(":
            continue
        names.add(word)
    return names


@dataclass(frozen=True)
class SupportCheck:
    """The result of checking one statement against its evidence."""

    verification: Verification
    overlap: float


def check_support(statement: str, evidence: str, article: str) -> SupportCheck:
    """Does ``evidence`` (the cited text) support ``statement``? Numbers in the statement
    must occur in the evidence, names in the article, and its content words mostly in the
    evidence. Never returns ``supported`` with an unmet check."""
    reasons: list[Reason] = []
    status: Literal["supported", "partially_supported", "unsupported"] = "supported"

    missing_numbers = sorted(numbers(statement) - numbers(evidence))
    if missing_numbers:
        shown = ", ".join(f"{n:g}" for n in missing_numbers[:5])
        in_article = numbers(article)
        if any(n not in in_article for n in missing_numbers):
            status = "unsupported"
            reasons.append(
                Reason(code="number-not-in-article", message=f"number(s) {shown} not in article")
            )
        else:
            status = "partially_supported"
            reasons.append(
                Reason(
                    code="number-not-in-evidence",
                    message=f"number(s) {shown} not in the cited sentences",
                )
            )

    folded_article = fold(article).text
    missing_names = sorted(n for n in proper_nouns(statement) if fold(n).text not in folded_article)
    if missing_names:
        status = "unsupported"
        reasons.append(
            Reason(
                code="entity-not-in-article",
                message=f"name(s) not in article: {', '.join(missing_names[:5])}",
            )
        )

    claim_words = content_words(statement)
    overlap = len(claim_words & content_words(evidence)) / len(claim_words) if claim_words else 1.0
    if overlap < 0.3:
        status = "unsupported"
        reasons.append(
            Reason(
                code="low-overlap",
                message=f"only {overlap:.0%} of the content words occur in the cited sentences",
            )
        )
    elif overlap < 0.6 and status == "supported":
        status = "partially_supported"
        reasons.append(
            Reason(
                code="partial-overlap",
                message=f"{overlap:.0%} of the content words occur in the cited sentences",
            )
        )
    return SupportCheck(Verification(status=status, reasons=reasons), overlap)
