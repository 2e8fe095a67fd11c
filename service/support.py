"""Does a piece of evidence support a statement? Checks an editor can read.

:func:`check_support` is the verdict the product uses: the rule checks below, where
hard evidence (the codes of :data:`HARD_CODES`: a number or name absent from the
article, a flipped negation, an antonym, a dropped "-backed"/"pro-" qualifier) decides
alone, and otherwise the learned
consistency scorer (:mod:`service.learned.consistency`) decides, its probability of
support reported with code ``consistency-score``. :func:`check_rules` is the rule checks
alone: each check that fails adds a :class:`~service.schemas.Reason` with a stable
kebab-case code and moves the verdict down; that verdict is never ``supported`` while a
check fails.

=========================  ===================  =========================================
code                       verdict at best      meaning
=========================  ===================  =========================================
number-not-in-article      unsupported          a number occurs nowhere in the article
number-not-in-evidence     partially_supported  a number occurs in the article, not the
                                                cited sentences
entity-not-in-article      unsupported          a name, or a word written just before
                                                one of the article's names, occurs
                                                nowhere in the article
entity-not-in-evidence     partially_supported  a name of the article is not in the cited
                                                sentences, or the sentence that says the
                                                rest names someone else (a swapped name)
negation-mismatch          unsupported          "not"/"no"/"never" on one side only
antonym                    unsupported          the statement says the opposite of the
                                                evidence (rose/fell, won/lost, ...)
qualifier-dropped          unsupported          the evidence's "U.S.-backed forces" or
                                                "pro-government militias" written as
                                                "U.S. forces", "government militias"
modality-mismatch          partially_supported  the evidence hedges ("may", "estimated"),
                                                the statement states it as fact
invented-detail            partially_supported  content words that occur nowhere in the
                                                article
low-overlap                unsupported          under 30% of the content words occur in
                                                the evidence
partial-overlap            partially_supported  under 60% of them do
consistency-score          (the scorer's)       the learned scorer's probability of support
                                                (combined verdict only)
=========================  ===================  =========================================

Numbers are compared as values ("20,000" = "20000" = "twenty thousand"); words are
compared case-insensitively after light stemming, so the checks also work on
lower-cased text. Used for claims and summary sentences alike, and by
:mod:`service.faithfulness`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from .schemas import Reason, Verification
from .text import fold

Status = Literal["supported", "partially_supported", "unsupported"]

LOW_OVERLAP = 0.3
PARTIAL_OVERLAP = 0.6

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
#: Function words that never count as content.
STOP_WORDS = _STOP


def _lexicon(text: str) -> frozenset[str]:
    """The whitespace-separated words of a lexicon literal."""
    return frozenset(text.split())


#: Number words and their values (units, tens, scales), shared with the figure finder.
NUMBER_WORDS = {
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

# Words that change little about what a sentence asserts, beyond the stop words: they
# are never reported as invented details ("the club has also confirmed ...").
_LIGHT_WORDS = _lexicon(
    """
    new former latest recent recently now still yet already more most less least many much
    some several other another any all both each every own same first last next one s
    people year years old time day week month
    """
)
_NEGATIONS = _lexicon(
    "not no never none nobody nothing neither nor cannot without n't declined refused failed unable"
)
_HEDGES = _lexicon(
    """
    may might could possibly perhaps probably likely unlikely apparently reportedly
    allegedly suspected believed estimated approximately roughly nearly almost suggest
    suggests suggested suggesting appear appears appeared seem seems seemed unconfirmed
    unverified assessed
    """
)
# The hedge must sit this close (in words) before a word the statement shares.
_HEDGE_WINDOW = 6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[a-z][.!?])(?=[A-Z])")
_CLAUSE = re.compile(r"[,;:.!?()\u2014]+")
_NEGATION_WINDOW = 2

# Opposites among common news verbs and adjectives; every form in a group shares a sign.
_ANTONYM_GROUPS: tuple[tuple[str, str], ...] = (
    ("rise rises rose risen rising", "fall falls fell fallen falling drop drops dropped"),
    (
        "increase increases increased increasing grow grows grew grown growing",
        "decrease decreases decreased decreasing decline declines declined shrink shrank",
    ),
    ("win wins won winning victory", "lose loses lost losing defeat defeated"),
    (
        "approve approves approved approving accept accepts accepted",
        "reject rejects rejected rejecting refuse refuses refused veto vetoed",
    ),
    ("raise raises raised raising", "lower lowers lowered lowering cut cuts"),
    ("higher highest larger largest bigger biggest", "lowest smaller smallest"),
    ("gain gains gained gaining", "loss losses"),
    ("pass passes passed", "fail fails failed"),
    ("convicted guilty", "acquitted innocent cleared"),
    ("allow allows allowed allowing permit permitted", "ban bans banned forbid forbade"),
    ("open opens opened opening reopen reopened", "closes closed closing shut"),
    ("support supports supported supporting", "oppose opposes opposed opposing"),
    ("confirm confirms confirmed confirming", "deny denies denied denying"),
    ("hire hires hired hiring", "sack sacks sacked dismissed"),
    ("start starts started starting begin began", "end ends ended ending finish finished"),
    ("alive survived", "dead died killed"),
    ("positive", "negative"),
    ("strong stronger strongest", "weak weaker weakest"),
    ("majority", "minority"),
)


def _antonym_table() -> dict[str, tuple[int, int]]:
    table: dict[str, tuple[int, int]] = {}
    for group, (plus, minus) in enumerate(_ANTONYM_GROUPS):
        for sign, forms in ((1, plus), (-1, minus)):
            for form in forms.split():
                table.setdefault(form, (group, sign))
    return table


_ANTONYMS = _antonym_table()
#: Each antonym form -> (its group, its sign); forms of opposite sign in a group oppose.
ANTONYM_FORMS = _ANTONYMS


def numbers(text: str) -> set[float]:
    """Numeric values in ``text``: digits with separators ("20,000"), scaled digits
    ("20 thousand", "1.5 million") and number words ("twenty thousand"), as floats."""
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
        if words[i] in NUMBER_WORDS and words[i] not in _SCALE:
            total, current = 0.0, float(NUMBER_WORDS[words[i]])
            j = i + 1
            while j < len(words) and words[j] in NUMBER_WORDS:
                w = words[j]
                if w in _SCALE:
                    current *= _SCALE[w]
                    if _SCALE[w] >= 1000:
                        total, current = total + current, 0.0
                else:
                    current += NUMBER_WORDS[w]
                j += 1
            values.add(total + current)
            i = j
            continue
        i += 1
    for m in re.finditer(r"(\d+(?:\.\d+)?)" + _SCALED.pattern, text, re.I):
        values.add(float(m.group(1)) * _SCALE[m.group(2).lower()])
    return values


def words(text: str) -> list[str]:
    """The words of ``text`` in order, lower-cased, with "n't" split off as its own word
    ("didn't" -> "did", "n't") so that negation is always visible."""
    # sentence-sized texts are cached: an analysis splits the same sentences for every
    # check that reads them (bounded memory: 4,096 texts of at most 2,000 characters)
    return list(_cached_words(text) if len(text) <= 2000 else _split_words(text))


@lru_cache(maxsize=4096)
def _cached_words(text: str) -> tuple[str, ...]:
    return _split_words(text)


def _split_words(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for w in _WORD.findall(text):
        low = w.lower().replace("\u2019", "'")
        if low.endswith("n't") and len(low) > 3:
            out.extend((low[:-3], "n't"))
        elif low.endswith("'s"):
            out.append(low[:-2])
        else:
            out.append(low)
    return tuple(out)


@lru_cache(maxsize=1 << 16)  # a pure function of one word: a vocabulary-sized memo
def stem(word: str) -> str:
    """A crude, stable stem of a lower-cased word: common inflections stripped, then the
    first six letters ("increased", "increases" -> "increa")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


@lru_cache(maxsize=1 << 16)
def is_content(word: str) -> bool:
    """True for a lower-cased word that carries content: not a stop word, number word or
    digit string, and longer than one letter."""
    return word not in _STOP and word not in NUMBER_WORDS and not word.isdigit() and len(word) > 1


_is_content = is_content


def content_words(text: str) -> set[str]:
    """Stems of the words of ``text`` that carry content: no stop words, number words or
    digits, and no one-letter words."""
    return {stem(w) for w in words(text) if _is_content(w)}


_POSSESSIVE = re.compile(r"['\u2019]s?$")


def proper_nouns(text: str) -> set[str]:
    """Capitalised words not at a sentence start (a cheap, language-agnostic proxy), a
    possessive ending dropped ("Energy's" -> "Energy": the article may not use the
    possessive)."""
    names: set[str] = set()
    for m in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", m.group()) or m.group()
        if not word[0].isupper() or word.lower() in _STOP:
            continue
        k = m.start() - 1
        while k >= 0 and text[k].isspace():
            k -= 1
        if k < 0 or text[k] in ".!?:\"'\u201c\u2018(":
            continue
        names.add(word)
    return names


@dataclass(frozen=True)
class ArticleProfile:
    """What the checks need to know about a whole article, computed once per article."""

    folded: str
    numbers: frozenset[float]
    stems: frozenset[str]
    # lower-cased words the article only ever writes capitalised mid-sentence: its names
    names: frozenset[str]


@lru_cache(maxsize=16)
def article_profile(article: str) -> ArticleProfile:
    """The article's folded text, numbers, word stems and names (words it only ever
    writes capitalised mid-sentence, lower-cased). Cached: one analysis checks every
    claim and summary sentence against the same article."""
    capitalised = {n.lower() for n in proper_nouns(article)}
    lower_forms = {m.group() for m in _WORD.finditer(article) if m.group()[0].islower()}
    names = frozenset(n for n in capitalised if n not in lower_forms and n not in _LIGHT_WORDS)
    return ArticleProfile(
        folded=fold(article).text,
        numbers=frozenset(numbers(article)),
        stems=frozenset(stem(w) for w in words(article)),
        names=names,
    )


@dataclass(frozen=True)
class SupportCheck:
    """The result of checking one statement against its evidence: the verdict with its
    reasons, and the share of the statement's content words found in the evidence."""

    verification: Verification
    overlap: float


#: Verdicts from loosest to strictest.
RANK: dict[Status, int] = {"supported": 0, "partially_supported": 1, "unsupported": 2}


def stricter(a: Verification, b: Verification) -> Verification:
    """The stricter of two verdicts, carrying the reasons of both (``a``'s first)."""
    status = a.status if RANK[a.status] >= RANK[b.status] else b.status
    return Verification(status=status, reasons=[*a.reasons, *b.reasons])


class _Verdict:
    def __init__(self) -> None:
        self.status: Status = "supported"
        self.firm: Status = "supported"
        self.hard = False
        self.reasons: list[Reason] = []

    def add(self, status: Status, code: str, message: str) -> None:
        if RANK[status] > RANK[self.status]:
            self.status = status
        self.hard = self.hard or code in HARD_CODES
        if code in _FIRM_CODES and RANK[status] > RANK[self.firm]:
            self.firm = status
        self.reasons.append(Reason(code=code, message=message))


#: Reason codes of hard evidence: each makes a statement unsupported whatever the
#: learned scorer says.
HARD_CODES = frozenset(
    {
        "number-not-in-article",
        "entity-not-in-article",
        "negation-mismatch",
        "antonym",
        "qualifier-dropped",
    }
)
# Precise findings the learned scorer cannot lift (it can only be stricter): a figure,
# a name or a hedge the cited sentences do not carry (the mark of a statement stitched
# from two sentences), a statement the evidence barely touches. The word-overlap checks
# a paraphrase fails (invented words, partial overlap) are the scorer's call.
_FIRM_CODES = frozenset(
    {"number-not-in-evidence", "entity-not-in-evidence", "modality-mismatch", "low-overlap"}
)


@dataclass(frozen=True)
class RuleFindings:
    """The rule checks' verdict, whether hard evidence decided it, and the strictest
    status set by a precise finding the learned scorer cannot lift (``supported`` when
    there is none)."""

    check: SupportCheck
    hard: bool
    firm: Status


def _shown(items: Iterable[str]) -> str:
    return ", ".join(list(items)[:5])


def _negated_words(text: str) -> tuple[set[str], set[str]]:
    """Content stems of ``text`` among the first two content words after a negation in
    the same clause ("did not approve the plan" -> approv, plan), and the stems
    occurring anywhere else."""
    negated: set[str] = set()
    plain: set[str] = set()
    for clause in _CLAUSE.split(text):
        tokens = words(clause)
        window = 0
        for w in tokens:
            if w in _NEGATIONS:
                window = _NEGATION_WINDOW
                continue
            if _is_content(w):
                (negated if window else plain).add(stem(w))
                window = max(0, window - 1)
    return negated, plain


def negation_flips(statement: str, evidence: str) -> list[str]:
    """Words of the statement negated on one side only: the statement negates a word the
    evidence only states plainly, or states plainly a word the evidence only ever
    negates. Words are compared by stem and returned as the statement writes them."""
    st_neg, st_plain = _negated_words(statement)
    ev_neg, ev_plain = _negated_words(evidence)
    flipped = ((st_neg - st_plain) & (ev_plain - ev_neg)) | (
        (ev_neg - ev_plain) & (st_plain - st_neg)
    )
    surface: dict[str, str] = {}
    for w in words(statement):
        surface.setdefault(stem(w), w)
    return [surface[s] for s in sorted(flipped)]


def _best_sentence(statement: str, evidence: str) -> str:
    """The sentence of ``evidence`` sharing the most content words with ``statement``."""
    wanted = content_words(statement)
    parts = [p for p in _SENTENCE_END.split(evidence) if p.strip()] or [evidence]
    return max(parts, key=lambda p: len(wanted & content_words(p)))


def hedges(text: str) -> list[tuple[int, str]]:
    """The hedge and estimate cues of ``text`` ("may", "could", "suggested", ...) as
    ``(word index, cue)``, indexing ``[w.lower() for w in _WORD.findall(text)]``. A
    capitalised cue inside a sentence is a name or a month ("Theresa May", "in May"),
    not a hedge."""
    found: list[tuple[int, str]] = []
    for i, raw in enumerate(_WORD.findall(text)):
        cue = raw.lower()
        if cue in _HEDGES and not (i > 0 and raw[0].isupper()):
            found.append((i, cue))
    return found


def modality_flips(statement: str, evidence: str) -> list[str]:
    """Hedge cues of the evidence sentence closest to the statement that qualify a word
    the statement shares, when the statement itself carries no hedge: the statement
    states as fact what the evidence only hedges."""
    if hedges(statement):
        return []
    shared = content_words(statement)
    closest = _best_sentence(statement, evidence)
    tokens = [w.lower() for w in _WORD.findall(closest)]
    found: list[str] = []
    for i, cue in hedges(closest):
        window = tokens[i + 1 : i + 1 + _HEDGE_WINDOW]
        if cue not in found and any(stem(t) in shared for t in window if _is_content(t)):
            found.append(cue)
    return found


def antonyms(statement: str, evidence: str) -> list[tuple[str, str]]:
    """Pairs ``(statement word, evidence word)`` of opposite sign in the same group
    (rose/fell, won/lost, approved/rejected) where the evidence never uses the
    statement's sign of that group."""
    st = {w for w in words(statement) if w in _ANTONYMS}
    ev = {w for w in words(evidence) if w in _ANTONYMS}
    ev_signs = {_ANTONYMS[w] for w in ev}
    pairs: list[tuple[str, str]] = []
    for w in sorted(st):
        group, sign = _ANTONYMS[w]
        if (group, sign) in ev_signs:
            continue
        opposite = sorted(e for e in ev if _ANTONYMS[e] == (group, -sign))
        if opposite:
            pairs.append((w, opposite[0]))
    return pairs


#: Compounds whose first part is not who acts: "U.S.-backed forces" are not U.S. forces,
#: "pro-government militias" are not the government's, an "ex-minister" is no minister.
_AGENTIVE = (
    "backed|led|allied|funded|trained|supported|sponsored|armed|aligned|affiliated|"
    "linked|inspired|appointed|installed"
)
_SUFFIXED = re.compile(
    rf"(?<![\w.\-])(?P<head>[^\W_][\w.\u2019']*?)\s?-\s?(?:{_AGENTIVE})\s+(?P<noun>[^\W\d_]+)",
    re.I,
)
_PREFIXED = re.compile(
    r"(?<![\w\-])(?:pro|anti|ex|non)\s?-\s?(?P<head>[^\W_][\w.\u2019']*?)\s+(?P<noun>[^\W\d_]+)",
    re.I,
)


def dropped_qualifiers(statement: str, evidence: str) -> list[tuple[str, str]]:
    """Pairs ``(evidence phrase, statement phrase)`` where the statement drops the part
    of a compound that says who acts: the evidence has "U.S.-backed forces" or
    "pro-government militias", the statement "U.S. forces" or "government militias"
    and not the compound itself."""
    found: list[tuple[str, str]] = []
    for m in [*_SUFFIXED.finditer(evidence), *_PREFIXED.finditer(evidence)]:
        head, noun = m.group("head"), m.group("noun")
        bare = re.compile(rf"(?<![\w\-]){re.escape(head)}\s+{re.escape(noun)}\b", re.I).search(
            statement
        )
        whole = re.compile(re.escape(m.group(0)).replace(r"\ ", r"\s+"), re.I).search(statement)
        if bare and not whole:
            pair = (" ".join(m.group(0).split()), " ".join(bare.group(0).split()))
            if pair not in found:
                found.append(pair)
    return found


def _name_groups(tokens: Sequence[str], names: frozenset[str]) -> list[tuple[str, ...]]:
    """Runs of consecutive name words ("alberto bueno", "manchester city")."""
    groups: list[tuple[str, ...]] = []
    run: list[str] = []
    for w in [*tokens, ""]:
        if w in names:
            run.append(w)
        elif run:
            groups.append(tuple(run))
            run = []
    return groups


def _name_parts(tokens: Sequence[str], unknown: set[str], names: frozenset[str]) -> list[str]:
    """Words the article never uses written just before one of its names ("jeremy" in
    "jeremy clarkson" when the article has only "Clarkson"): an invented part of a name,
    visible even in lower-cased text. Returned with the name they precede."""
    parts: list[str] = []
    for w, after in itertools.pairwise(tokens):
        if w in unknown and after in names and f"{w} {after}" not in parts:
            parts.append(f"{w} {after}")
    return parts


def swapped_names(
    statement: str, sentence: str, names: frozenset[str]
) -> tuple[list[str], list[str]] | None:
    """``(names of the statement, other names)`` when ``sentence`` (the one that carries
    the statement) mentions none of a name of the statement but names someone the
    statement does not: a swapped subject or speaker. A name counts as mentioned when
    any of its words is ("Bueno" for "Alberto Bueno"). ``None`` otherwise."""
    st_tokens = words(statement)
    there = words(sentence)
    missing = [g for g in _name_groups(st_tokens, names) if not set(g) & set(there)]
    others = [g for g in _name_groups(there, names) if not set(g) & set(st_tokens)]
    if not missing or not others:
        return None
    return [" ".join(g) for g in missing], [" ".join(g) for g in others]


def check_support(
    statement: str,
    evidence: str,
    article: str,
    *,
    low_overlap: float = LOW_OVERLAP,
    partial_overlap: float = PARTIAL_OVERLAP,
    learned: bool = True,
) -> SupportCheck:
    """Does ``evidence`` (the cited text) support ``statement``? ``article`` is the whole
    text the evidence comes from.

    Hard evidence decides alone: a number or name the article never has, a flipped
    negation or an antonym makes the verdict ``unsupported`` (see :data:`HARD_CODES`).
    Otherwise the learned consistency scorer (:mod:`service.learned.consistency`) gives
    a probability of support, reported with code ``consistency-score`` and compared with
    the thresholds its weights carry; the verdict is the stricter of that and of the
    precise rule findings (a number, name or hedge missing from the evidence, low
    overlap), so only the word-overlap checks a paraphrase fails are the scorer's
    call. When the verdict is not ``supported`` every failed check is listed; when it
    is, the score's message names the checks it outweighed. ``learned=False`` gives the
    rule checks alone (:func:`check_rules`)."""
    found = rule_findings(
        statement, evidence, article, low_overlap=low_overlap, partial_overlap=partial_overlap
    )
    reasons = found.check.verification.reasons
    if not learned or found.hard:
        return found.check
    if found.check.verification.status == "supported" and not reasons:
        # every check passed: the evidence says it in the statement's own words, and
        # there is nothing left for the scorer to weigh
        return found.check
    from .learned import consistency

    weights = consistency.weights()
    p = consistency.probability(statement, consistency.split_sentences(evidence), article)
    scored: Status
    if p >= weights.supported_at:
        scored = "supported"
    elif p >= weights.unsupported_below:
        scored = "partially_supported"
    else:
        scored = "unsupported"
    status = scored if RANK[scored] >= RANK[found.firm] else found.firm
    message = f"support probability {p:.2f} from the learned consistency scorer"
    if status == "supported" and reasons:
        message += "; outweighs " + _shown(r.code for r in reasons)
    score = Reason(code="consistency-score", message=message)
    kept = [score] if status == "supported" else [*reasons, score]
    return SupportCheck(Verification(status=status, reasons=kept), found.check.overlap)


def check_rules(
    statement: str,
    evidence: str,
    article: str,
    *,
    low_overlap: float = LOW_OVERLAP,
    partial_overlap: float = PARTIAL_OVERLAP,
) -> SupportCheck:
    """The rule checks alone: numbers, names, negation, modality, antonyms, invented
    details and content overlap (see the module table for the codes). The verdict is
    ``supported`` only when every check passes, and every check that fails contributes
    exactly one reason."""
    return rule_findings(
        statement, evidence, article, low_overlap=low_overlap, partial_overlap=partial_overlap
    ).check


def rule_findings(
    statement: str,
    evidence: str,
    article: str,
    *,
    low_overlap: float = LOW_OVERLAP,
    partial_overlap: float = PARTIAL_OVERLAP,
) -> RuleFindings:
    """:func:`check_rules`'s verdict with what kind of finding set it (hard, precise
    or word overlap), for combining it with the learned scorer."""
    verdict = _Verdict()
    art = article_profile(article)

    missing_numbers = sorted(numbers(statement) - numbers(evidence))
    if missing_numbers:
        shown = _shown(f"{n:g}" for n in missing_numbers)
        if any(n not in art.numbers for n in missing_numbers):
            verdict.add("unsupported", "number-not-in-article", f"number(s) {shown} not in article")
        else:
            verdict.add(
                "partially_supported",
                "number-not-in-evidence",
                f"number(s) {shown} not in the cited sentences",
            )

    missing_names = sorted(n for n in proper_nouns(statement) if fold(n).text not in art.folded)
    if missing_names:
        verdict.add(
            "unsupported",
            "entity-not-in-article",
            f"name(s) not in article: {_shown(missing_names)}",
        )
    st_words = words(statement)
    ev_words = set(words(evidence))
    invented = [
        w
        for w in dict.fromkeys(st_words)
        if _is_content(w) and len(w) > 2 and w not in _LIGHT_WORDS and stem(w) not in art.stems
    ]
    # in cased text a name part is capitalised; lower-cased text gives no such hint
    capitalised = {m.group().lower() for m in _WORD.finditer(statement) if m.group()[0].isupper()}
    candidates = set(invented) & capitalised if statement != statement.lower() else set(invented)
    if not missing_names and (parts := _name_parts(st_words, candidates, art.names)):
        verdict.add(
            "unsupported",
            "entity-not-in-article",
            f"name(s) not in article: {_shown(parts)}",
        )
        invented = [w for w in invented if not any(w in p.split() for p in parts)]
    names_here = [w for w in dict.fromkeys(st_words) if w in art.names]
    best = _best_sentence(statement, evidence)
    if absent := [w for w in names_here if w not in ev_words]:
        verdict.add(
            "partially_supported",
            "entity-not-in-evidence",
            f"name(s) not in the cited sentences: {_shown(absent)}",
        )
    elif swapped := swapped_names(statement, best, art.names):
        verdict.add(
            "partially_supported",
            "entity-not-in-evidence",
            f"the sentence that says this names {_shown(swapped[1])}, not {_shown(swapped[0])}",
        )

    if flips := negation_flips(statement, evidence):
        where = "here" if any(w in _NEGATIONS for w in st_words) else "in the evidence"
        verdict.add(
            "unsupported",
            "negation-mismatch",
            f"negated {where} only: {_shown(flips)}",
        )
    opposite = antonyms(statement, evidence)
    if opposite:
        verdict.add(
            "unsupported",
            "antonym",
            "the evidence says the opposite: " + _shown(f"{a!r} vs {b!r}" for a, b in opposite),
        )
    if dropped := dropped_qualifiers(statement, evidence):
        verdict.add(
            "unsupported",
            "qualifier-dropped",
            "the evidence says "
            + _shown(f"{a!r}, not {b!r}" for a, b in dropped)
            + " (someone else acts)",
        )
    hedged = modality_flips(statement, evidence)
    if hedged:
        verdict.add(
            "partially_supported",
            "modality-mismatch",
            f"stated as fact; the evidence hedges it ({_shown(hedged)})",
        )

    if invented and not missing_names:
        verdict.add(
            "partially_supported",
            "invented-detail",
            f"word(s) not in article: {_shown(invented)}",
        )

    claim_words = content_words(statement)
    overlap = len(claim_words & content_words(evidence)) / len(claim_words) if claim_words else 1.0
    if overlap < low_overlap:
        verdict.add(
            "unsupported",
            "low-overlap",
            f"only {overlap:.0%} of the content words occur in the cited sentences",
        )
    elif overlap < partial_overlap:
        verdict.add(
            "partially_supported",
            "partial-overlap",
            f"{overlap:.0%} of the content words occur in the cited sentences",
        )
    check = SupportCheck(Verification(status=verdict.status, reasons=verdict.reasons), overlap)
    return RuleFindings(check, verdict.hard, verdict.firm)
