"""Attributions: who said (wrote, estimated, believes) what, found by rules.

Three shapes cover most news attribution:

- trailing: ``“Quote,” SOURCE said`` / ``“Quote,” said SOURCE`` / ``Claim, SOURCE said.``
- leading: ``SOURCE said (that) CONTENT`` (also ``told X``, ``estimated in May that``)
- ``according to SOURCE, CONTENT`` and ``CONTENT, according to SOURCE``

plus stance verbs whose content is their object (``endorsed Trump``, ``declined to
comment``), ``Name: claim`` headlines and transcripts, and a colon announcing the quote
of the next paragraph. A quote that continues a quoted attribution (``“…,” he said,
“…”``, a following all-quote sentence, or a quote opening the next paragraph) becomes
its own attribution linked to the first.

The lexicons were tuned on the PolNeAR train split (news attribution in its broad
sense: speech, belief and stance), never on dev.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from service.analyzers._spans import SentenceIndex, make_span, words
from service.analyzers.attribution_model import locate, needs_entities, parsed_type, propose
from service.analyzers.findings import Attribution, SpeakerType, TextSpan
from service.learned.attribution import Tagged, Token
from service.learned.attribution import tagger as attribution_tagger
from service.nlp import entities
from service.text import Document, Sentence

#: Which finder :func:`find_attributions` runs.
Mode = Literal["rules", "model", "combined"]

# Verbs whose content is their object ("endorsed Trump", "a poll shows X"): PolNeAR
# annotates them as attributions of stance, not only of speech.
_OBJECT_VERBS_LIST = words(
    """
    called shows showed found finds described describes describing accused accuses
    accusing endorsed endorses criticized criticizes criticizing cited citing cites
    wants supported defended defends defending praised praises praising proposed
    proposes opposed questioned refused refuses welcomed blamed blames blaming condemned
    slammed attacked rejected rejects dismissed dismisses mocked touted touting promised
    promising demands demanding highlighted asked asks calling pointing referring
    referred referenced discussed discussing mentioned mention mentions reiterated
    reiterates blasted blasts denounced denouncing knows lamented decried remembered
    signaled assured reminded reminding echoed thanked sounded portrayed slams assailed
    remarked stating declaring questioning expecting predicting encouraged convinced
    boasted ordered retweeted emailed quoted chanted seemed seems appears appeared
    expected continued offered sought hopes asking discuss named notes hoping shown
    learned sees oppose expect urging remember seeks blame challenged worry deemed
    nominated requested reads refusing threatened projected answered promote proposing
    disclosed portray vowing applauded forecast wonder criticize recommended cautioned
    dismissing alleging blasting championed mentioning refuse thanking pledging bemoaned
    slamming implied believing threatening likened mocking wondered remarking sided
    invoked commented asserting emphasizing emphasize yelled lambasted considers balked
    rebuked referencing interjected implying derided realized informed persuaded
    recounted speculated labeled knocked accuse acquiesced affirm agrees alluding
    apologize articulated assure attributed authored billed blast boast bragged
    celebrated chided chiding cite clarified commenting conceding confirming
    congratulated congratulating considered contradicted credited crediting debated
    decrying disagree disavow disavowed disclose disliked disputed documented downplayed
    dubbed elaborated envision envisioned foresee hailed hinted identified imagined
    insulted interpreted laments lamenting opined outlining persuade proclaimed promotes
    pronounced quoting reacted reaffirmed rebuffed rebut recognized recognizes recommend
    refers rejecting remembers remind resisted ripped scorn shrugged speculate stressing
    supports touts tout trumpeting underscore uttered vouched
    """
)
# Stance verbs whose content is an infinitive ("declined to comment").
_TO_VERBS = frozenset(
    words(
        """
    wants hope hopes hoped declines declined refuse refuses refused seeks sought vow
    vows vowed promise promises promised threaten threatens threatened urge urges urged
    """
    )
)
_OBJECT_VERBS = frozenset(_OBJECT_VERBS_LIST) | _TO_VERBS
_VERBS = [
    *_TO_VERBS,
    *words(
        """
    say says said saying tells told telling adds added adding write writes wrote writing
    noted noting reported announce announces announced announcing suggest suggests
    suggested suggesting argue argues argued arguing tweeted tweeting claims claimed
    claiming warn warns warned estimate estimates estimated explain explains explained
    explaining acknowledge acknowledges acknowledged acknowledging declare declares
    declared insist insists insisted insisting believe believes think thinks thought
    recall recalls recalled recalling responds responded reply replies replied stated
    stress stresses stressed emphasized emphasizes contend contends contended predict
    predicts predicted concede concedes conceded admit admits admitted admitting confirm
    confirms confirmed deny denies denied allege alleges alleged complain complains
    complained testify testified urge urges urged promise promises promised vow vows
    vowed reveal reveals revealed indicate indicates indicated conclude concludes
    concluded agreed assert asserts asserted observe observes observed feared hoped
    worried charged quipped joked mused countered shouted declined announced acknowledge
    predicts reports
    """
    ),
    *_OBJECT_VERBS_LIST,
]
# Forms that are more often nouns ("his claims", "news reports"): need a subject.
_NOUNISH = frozenset(
    words(
        """
    claims reports estimates notes hopes fears promises charges worries pledges vows
    tweets posted thought reported show found
    """
    )
)
_DETERMINERS = frozenset(
    words(
        """
    the a an his her their its our my your these those this that such initial earlier
    early latest new recent media press some many any no other of in on for by with
    """
    )
)
_AUX = (
    r"(?:has|have|had|will|would|could|can|may|might|should|must|is|are|was|were|"
    r"do|does|did|also|previously|later|repeatedly|recently|often|once|then|again|"
    r"further|publicly|privately|reportedly|never|just|already|first|even|flatly|"
    r"not|n[o’']t|long|still|similarly|separately|simply|quickly|told|now|since|"
    r"repeatedly|widely|openly|officially|explicitly|forcefully|strongly|sharply|"
    r"enthusiastically|vigorously|loudly|frequently|consistently|initially|"
    r"ultimately|eventually|finally|immediately|specifically|directly|personally|"
    r"acutely|derisively|fiercely|formally|happily|implicitly|jokingly|pointedly|"
    r"rhetorically|vehemently|subsequently|suddenly|squarely|favorably)"
)
_CUE = re.compile(
    r"(?<![\w\-])(?:(?:" + _AUX + r")\s+){0,3}"
    r"(?P<verb>" + "|".join(sorted(set(_VERBS), key=len, reverse=True)) + r")(?![\w\-])"
    r"(?P<tail>\s+in\s+(?:a|an)\s+(?:written\s+)?(?:statement|email|e-mail)"
    r"|(?<=call)\s+for|(?<=called)\s+for|(?<=calls)\s+for|(?<=calling)\s+for"
    r"|(?<=warned)\s+of|(?<=warns)\s+of|(?<=accused)\s+of|(?<=accuses)\s+of"
    r"|(?<=pointed)\s+(?:to|out)|(?<=pointing)\s+(?:to|out)|(?<=points)\s+(?:to|out)"
    r"|(?<=referring)\s+to"
    r"|(?<=referred)\s+to|(?<=talked)\s+about|(?<=talking)\s+about|(?<=talks)\s+about"
    r"|(?<=asked)\s+about)?:?",
    re.IGNORECASE,
)
_VERB_SET = frozenset(_VERBS)
#: The reporting verbs the rules know (a feature of the trained tagger).
CUE_VERBS = _VERB_SET
_WORD = re.compile(r"[A-Za-z]+")
_AUX_WORD = re.compile(_AUX + r"$", re.IGNORECASE)


def _aux_start(text: str, lo: int, verb_start: int) -> int:
    """Start of up to three auxiliaries/adverbs right before ``verb_start`` (scanning
    back word by word is much cheaper than an end-anchored regex search)."""
    start = verb_start
    for _ in range(3):
        j = start
        while j > lo and text[j - 1] in " \t\u00a0":
            j -= 1
        if j == start:
            break
        k = j
        while k > lo and (text[k - 1].isalpha() or text[k - 1] in "’'"):
            k -= 1
        if k == j or not _AUX_WORD.match(text, k, j):
            break
        start = k
    return start


def _cue_matches(text: str, lo: int, hi: int) -> list[re.Match[str]]:
    """``_CUE`` matches in ``[lo, hi)``, found from a word scan (a regex alternation of
    every verb tried at every position is several times slower)."""
    out: list[re.Match[str]] = []
    last_end = lo
    for w in _WORD.finditer(text, lo, hi):
        if w.start() < last_end or w.group(0).lower() not in _VERB_SET:
            continue
        if w.start() > lo and text[w.start() - 1] in "-’'":
            continue
        aux_start = _aux_start(text, max(lo, last_end), w.start())
        m = None
        if aux_start < w.start():
            m = _CUE.match(text, aux_start, hi)
            if m is not None and m.start("verb") != w.start():
                m = None
        if m is None:
            m = _CUE.match(text, w.start(), hi)
        if m is not None:
            out.append(m)
            last_end = m.end()
    return out


# A short capitalised name opening a line and followed by a colon (headline or
# transcript style); lower-case words other than "of"/"the" rule it out.
_COLON_LEAD = re.compile(
    r"(?P<name>(?:[A-Z][\w.’'\-]*|of|the|and)(?:\s+(?:[A-Z][\w.’'\-]*|of|the|and)){0,4}):\s"
)
# Editorial labels that open a line with a colon and name no speaker ("The Latest: …",
# "Correction: An earlier version …").
_EDITORIAL_LABELS = frozenset(
    [
        "the latest",
        "correction",
        "corrections",
        "clarification",
        "update",
        "updated",
        "editor's note",
        "editor’s note",
        "breaking",
        "exclusive",
        "related",
        "watch",
        "video",
        "photos",
    ]
)
# A quote signed with a dash after it (vox pops, epigraphs, pull quotes):
# “…” ― Krystal Correa / "…" — Oscar P. Quintero, 34, a teacher in Tucson
_SIGNATURE = re.compile(
    r"\s*(?P<dash>[―—–]|--)\s*(?P<name>[A-Z][\w.’'\-]*"
    r"(?:[ \t]+(?:[A-Z][\w.’'\-]*|de|da|del|van|von|la|le|bin|al)){0,4}"
    r"(?:,[^\n“”\"«»]{1,60})?)[.]?\s*$"
)
_OBJECT_STOP = re.compile(r";\s|\s[–—]\s|—|\.$|\.\s")
# Verbs that are attributions only before "that" ("thought that", not "he thought").
_NEEDS_THAT = frozenset(
    words("posted thought expect fear fears worry worries charge charges charged")
)
# What may follow a speaker tag ("…?” Trump said of Apple in February, when …").
_TAG_TAIL = re.compile(r"\s*(?:,|of\b|in\b|on\b|at\b|during\b|after\b|when\b|as\b|to\b)")
_ASKED = re.compile(
    r"(?<![\w\-])(?P<cue>[Aa]sked)\s+(?:by\s+[^,.;]{1,40}?\s+)?"
    r"(?:(?:on|during|at|in|last|this)\s+[^,.;]{1,40}?\s+)?"
    r"(?P<q>(?:whether|what|why|how|if|about|who|which|when|where)\b)"
)
_GAP_SENTENCE = re.compile(r"(?:\b[a-z]{2,}|[a-z]{4,}|\d|\))[.!?]\s+[A-Z“\"]")
#: "put the number of missing at more than 200", "placed the damage at 2 billion"
_PUT_AT = re.compile(
    r"(?<![\w\-])(?P<cue>(?:put|puts|putting|placed|places|placing|pegged|pegs))\s+"
    r"(?P<obj>(?:the|its|their|his|her)\s+(?:[\w\-’']+\s+){0,5}?at\s+"
    r"(?:(?:about|around|more\s+than|less\s+than|fewer\s+than|nearly|almost|roughly|some|"
    r"over|under|up\s+to|at\s+least|as\s+many\s+as|[$€£])\s*)*\d)",
    re.IGNORECASE,
)
_ACCORDING = re.compile(r"(?<!\w)according\s+to(?!\w)", re.IGNORECASE)
_TELL_VERBS = frozenset(
    words(
        """
    tell tells told telling warn warns warned warning urge urged
    """
    )
)
_THAT = re.compile(r"\s*that\b", re.IGNORECASE)
_TIME = re.compile(
    r"\s*(?:on\s+)?(?:(?:last|this|next)\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|week|month|year|today|yesterday|tonight|earlier|later|recently|"
    r"in\s+(?:late|early|mid-?)?\s*(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December))\b(?:\s+(?:morning|afternoon|evening|night))?",
)
_OPEN_Q = "“\"«„'"
_LEAD_WORDS = re.compile(
    r"(?:(?:and|but|yet|so|still|meanwhile|separately|also|however|instead|now|then|even|only|"
    r"indeed|moreover|while|as|because|since|when|if|although|though|after|before|where)"
    r"\b[\s,]*)+",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"[”\"»;:(){}\[\]—]|\s[–-]\s|\bthat\s|\bwho\s|\bwhich\s", re.IGNORECASE)
# Words that cannot start (or end) the subject of a reporting verb.
_NOT_SUBJECT = frozenset(
    words(
        """
    to of in on at by for with from into is was are were be been has have had will would
    can could should may might must not also and or but if than then so as about after
    before over under just only even never always
    """
    )
)
_NOT_SUBJECT_END = frozenset(
    words(
        """
    the a an of to in on at by for with from and or but is was are were has have had not
    """
    )
)
_PRONOUNS = frozenset(["he", "she", "they", "we", "i", "it", "you", "who", "which"])
_PERSON_PRONOUNS = frozenset(["he", "she", "him", "her", "his"])

_OUTLET = re.compile(
    r"\b(?:VOA|AP|Associated\s+Press|Reuters|AFP|CNN|MSNBC|NBC|ABC|CBS|BBC|Fox\s+News|NPR|"
    r"Politico|Breitbart|Axios|Bloomberg|newspaper|news|magazine|Times|Post|Journal|"
    r"Tribune|Herald|Guardian|Gazette|network|outlet|broadcaster|reporter|correspondent|"
    r"TASS|Xinhua|al-Jazeera|Al\s+Jazeera|media|tabloids?|newswire|wire\s+service|"
    r"news\s+agency|state\s+(?:television|TV|radio)|television|radio)\b"
)
_DOCUMENT = re.compile(
    r"\b(?:messages?|reports?|statements?|memos?|letters?|documents?|polls?|surveys?|"
    r"study|studies|data|records?|filings?|e-?mails?|tweets?|posts?|videos?|recordings?|"
    r"estimates?|analysis|book|article|transcripts?|website|figures|census|complaints?|"
    r"lawsuits?|indictments?|rulings?|order|notes?|ad|advertisement|releases?|audits?|"
    r"inquiry|reviews?)\b",
    re.IGNORECASE,
)
_ORG = re.compile(
    r"\b(?:Pentagon|United\s+Nations|U\.?N\.?|UN|Committee|Department|Ministry|Agency|"
    r"Council|Forces|campaign|government|party|administration|White\s+House|Congress|"
    r"Senate|House|Commission|Organization|Office|Association|Institute|University|Inc|"
    r"Corp|police|army|military|company|Bureau|Court|court|Kremlin|Parliament|Union|"
    r"Foundation|Fund|Group|group|Coalition|coalition|Democrats|Republicans|GOP|DNC|RNC|"
    r"FBI|CIA|State\s+Department|Justice|Rescue|Bank|Service|Board|Center|Centre|"
    r"officials|authorities|ministry|agency|spokesman\s+for|spokeswoman\s+for|"
    r"(?i:companies|firms|businesses|banks|unions|agencies|ministries|governments|insurers|"
    r"retailers|airlines|carmakers|manufacturers|operators|lenders|utilities|forces))\b"
    # institutions named in other languages ("la Asociación de Comerciantes")
    r"|\b(?i:Asociaci[oó]n|Ayuntamiento|Ministerio|Gobierno|Partido|Comisi[oó]n|Consejo|"
    r"Sindicato|Federaci[oó]n|Fundaci[oó]n|Universidad|Agencia|Polic[ií]a|Junta|Tribunal|"
    r"Minist[eè]re|Gouvernement|Mairie|Parti|Conseil|Syndicat|Regierung|Ministerium|"
    r"Partei|Verband|Gewerkschaft|Stadtrat|Associa[cç][aã]o|Governo|Comune|Ministero)\b"
)
_ANON_HEAD = re.compile(
    r"\b(?:officials?|sources?|aides?|people|person|persons|analysts?|experts?|diplomats?|"
    r"advisers?|advisors?|insiders?|observers?|critics?|residents?|witnesses?|someone|"
    r"staffers?|members?|allies|spokesperson|spokesman|spokeswoman|officer|officers|another|"
    r"lawmakers?|investigators?|activists?|supporters?|one|many|some|others)\b",
    re.IGNORECASE,
)
_INDEFINITE = re.compile(
    r"^(?:a|an|one|another|two|three|several|some|many|other|multiple|senior|unnamed|anonymous|"
    r"administration|\w+\s+familiar)\b",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Gen|Sen|Rep|Gov|Lt|Col|Maj|Capt|Adm|Prof|Sgt|Rev)\.|"
    r"\b(?:President|Senator|Governor|General|Secretary|Minister|Mayor|Judge|Chairman|"
    r"Chairwoman|Spokesman|Spokeswoman|Director|Commander|Ambassador|Speaker|Leader|"
    r"Chief|Prime)\s+[A-Z]"
)
_PERSON_ROLE = re.compile(
    r"\b(?:mayor|governor|senator|congressman|congresswoman|president|minister|coach|"
    r"chairman|chairwoman|candidate|secretary|judge|lawyer|attorney|doctor|professor|"
    r"economist|author|writer|founder|director|commander|ambassador|leader|manager|"
    r"owner|father|mother|wife|husband|son|daughter|woman|man|nominee|actor|singer|"
    r"prosecutor|sheriff|chief|general|colonel|captain|historian|pollster|strategist)\b",
    re.IGNORECASE,
)
_CAP_WORD = re.compile(r"\b[A-Z][a-z’'\-]+\b")
_ACRONYM = re.compile(r"^(?:[A-Z]\.?){2,6}$")


@dataclass(slots=True)
class _Raw:
    source: TextSpan | None
    cue: TextSpan | None
    content: TextSpan
    direct: bool
    continues: int | None = None  # index of the attribution this quote continues


_QUOTE_MARK = re.compile(r"''|[“”\"«»„]")


def _quotes(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Double-quoted stretches inside ``text[start:end]`` (with their quote marks).

    Any double quote mark (curly, straight, guillemet, or the ``''`` of some wire
    copy) opens and the next one closes, whatever its shape: mixed pairs are common in
    real copy. An unclosed quote runs to ``end`` (quotes spanning paragraphs).
    """
    out: list[tuple[int, int]] = []
    marks = list(_QUOTE_MARK.finditer(text, start, end))
    k = 0
    while k < len(marks):
        m = marks[k]
        if m.group(0) in "”»" and (k + 1 >= len(marks)):
            k += 1
            continue
        if k + 1 < len(marks):
            out.append((m.start(), marks[k + 1].end()))
            k += 2
        else:
            out.append((m.start(), end))
            k += 1
    return out


_CLAUSE_CONJ = re.compile(r"(?<=[,;])\s*(?:while|whereas|but|and|although|though)$", re.IGNORECASE)
_SUBORDINATE = re.compile(
    r"\b(?:after|before|since|when|while|until|because|although|though|if|as|once)\s+",
    re.IGNORECASE,
)


def _strip_lead(text: str, a: int, b: int) -> int:
    """Skip leading conjunctions and any fronted clause opener (``A week after``)."""
    while a < b and text[a].isspace():
        a += 1
    for m in _SUBORDINATE.finditer(text, a, b):
        if m.end() < b and len(text[a : m.start()].split()) <= 3:
            a = m.end()
    m2 = _LEAD_WORDS.match(text, a, b)
    if m2 is not None and m2.end() < b:
        return m2.end()
    return a


_APPOSITIVE_START = re.compile(
    r"\s*(?:a|an|the|who|which|whose|one|two|[a-z][\w’'\-]*|\d+|\(?[DRI]-|"
    r"[A-Z][\w.\-]*[’']s?\s)",
    re.UNICODE,
)
_NAME_SEGMENT = re.compile(
    r"\s*(?:(?:[A-Z][a-z]{0,3}\.|[A-Z]\.)\s*)?[A-Z][\w’'\-]+(?:\s+(?:[A-Z]\.|[A-Z][\w’'\-]+)){0,3}\s*$"
)


def _commas(text: str, lo: int, hi: int) -> list[int]:
    """Positions of the commas in ``[lo, hi)`` outside parentheses and brackets."""
    out: list[int] = []
    depth = 0
    for k in range(lo, hi):
        ch = text[k]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            out.append(k)
    return out


def _appositive_source(text: str, lo: int, comma: int) -> TextSpan | None:
    """``Name, appositive(, appositive), said`` or ``The author, Jane Doe, said``: the
    whole phrase from the head noun phrase through the last appositive."""
    commas = [c for c in _commas(text, lo, comma) if c < comma]
    for back in range(1, min(4, len(commas)) + 1):
        c = commas[-back]
        seg_end = commas[-back + 1] if back > 1 else comma
        head_lo = commas[-back - 1] + 1 if back < len(commas) else lo
        if not _APPOSITIVE_START.match(text, c + 1, seg_end):
            if _NAME_SEGMENT.match(text[c + 1 : seg_end]):
                # "The author, Jane Doe," (name as appositive) or "Houston, Texas,"
                head = _plain_source(text, head_lo, c)
                if head is not None and back == 1 and head.text[:1].isalpha():
                    return make_span(text, head.start, comma)
                continue
            return None
        head = _plain_source(text, head_lo, c)
        if head is not None and head.text[:1].isupper():
            return make_span(text, head.start, comma)
    return None


def _plain_source(text: str, lo: int, cue_start: int) -> TextSpan | None:
    a = lo
    for m in _BOUNDARY.finditer(text, lo, cue_start):
        a = m.end()
    a = _strip_lead(text, a, cue_start)
    span = make_span(text, a, cue_start)
    if span is None or len(span.text.split()) > 8:
        return None
    return span


def _source_left(text: str, lo: int, cue_start: int) -> TextSpan | None:
    """The subject noun phrase ending right before the cue, within ``[lo, cue_start)``."""
    end = cue_start
    while end > lo and text[end - 1].isspace():
        end -= 1
    if end > lo and text[end - 1] == ",":
        appos = _appositive_source(text, lo, end - 1)
        if appos is not None and len(appos.text.split()) <= 40:
            return appos
    a = lo
    rel: re.Match[str] | None = None
    for m in _BOUNDARY.finditer(text, lo, cue_start):
        a = m.end()
        rel = m
    if (
        rel is not None
        and rel.group(0).strip().lower() in ("who", "which", "that")
        and (not text[rel.end() : cue_start].strip())
    ):
        return TextSpan(rel.start(), rel.end() - 1, text[rel.start() : rel.end() - 1])
    commas = _commas(text, a, cue_start)
    if commas:
        a = commas[-1] + 1
    a = _strip_lead(text, a, cue_start)
    span = make_span(text, a, cue_start)
    if span is None or len(span.text.split()) > 20:
        return None
    words = span.text.split()
    if words[0].lower() in _NOT_SUBJECT or words[-1].lower() in _NOT_SUBJECT_END:
        return None
    if "<" in span.text or ">" in span.text or "=" in span.text:
        return None
    return span


def _first_comma(text: str, lo: int, hi: int) -> int:
    """Start of the verb phrase ending at the first top-level comma: a cheap stand-in
    for the main clause subject of ``SUBJECT VERB …, saying …``."""
    commas = _commas(text, lo, hi)
    if not commas:
        return lo
    head = text[lo : commas[0]]
    m = re.search(r"\s(?:[a-z]+(?:ed|s)|has|have|had|is|was|are|were|will|would)\b", head)
    return lo + m.start() if m else lo


_RIGHT_STOP = re.compile(r"[,;!?”\"(]|\.(?=\s|$)")
_DET_START = re.compile(
    r"(?:a|an|the|one|another|some|many|several|two|three|four|both|his|her|their|its|our)\s",
    re.IGNORECASE,
)


def _source_right(text: str, start: int, stop: int) -> TextSpan | None:
    """Inverted source after the cue (``said Smith, the mayor.``), appositive included."""
    seg_end = stop
    pos = start
    while True:
        m = _RIGHT_STOP.search(text, pos, stop)
        if m is None:
            break
        seg_end = m.start()
        if m.group(0) == "." and re.search(
            r"(?:\b[A-Z][a-z]{0,3}|\b[A-Z]|\.[A-Z])$", text[start:seg_end]
        ):
            pos = m.end()  # "Gen." or "U.S." inside the name
            seg_end = stop
            continue
        break
    span = make_span(text, start, seg_end)
    if span is None or len(span.text.split()) > 12:
        return None
    if not (span.text[:1].isupper() or _DET_START.match(span.text)):
        return None
    if seg_end < stop and text[seg_end] == ",":
        after = text[seg_end + 1 : stop]
        first = after.split()[:1]
        if (
            first
            and _APPOSITIVE_START.match(after)
            and not first[0].endswith("ing")
            and (first[0].lower() not in _NOT_SUBJECT)
        ):
            m2 = re.compile(r"[;!?”\"]|\.(?=\s|$)").search(text, seg_end + 1, stop)
            end = m2.start() if m2 else _content_end(text, seg_end + 1, stop)
            wider = make_span(text, start, end)
            if wider is not None and len(wider.text.split()) <= 40:
                return wider
    return span


_BAD_SOURCE_END = frozenset(
    words(
        """
        and or but been be being to a an the of for with when while as though although
        before after since until because if than so whether
        """
    )
)


def _source_ok(source: str) -> bool:
    """False for phrases that cannot be a whole speaker (a dangling conjunction or
    auxiliary at the end, or a verb or preposition at the start)."""
    ws = source.split()
    return (
        bool(ws)
        and ws[-1].lower() not in _BAD_SOURCE_END
        and not (ws[0].lower() in _NOT_SUBJECT or ws[0].lower() in ("said", "says", "say"))
    )


def _content_end(text: str, a: int, b: int) -> int:
    """End of a content running to the end of its sentence ``[a, b)``: drop the final
    period unless it sits inside a closing quote."""
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a and text[b - 1] in ".!?…":
        b -= 1
    return b


class _Finder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.text = doc.text
        self.raws: list[_Raw] = []
        self._trail_cut = 0
        self._pending_carry: int | None = None
        self._colon_pending: list[tuple[TextSpan | None, TextSpan]] = []
        self._para_quotes: list[tuple[int, int]] = []
        self._cues: list[re.Match[str]] = []

    def run(self) -> list[_Raw]:
        """Raw attributions of every kept paragraph except captions, in text order."""
        carried: int | None = None  # a quoted attribution ending the previous paragraph
        colon_cue: int | None = None  # "he declared:" ending the previous paragraph
        for para in self.doc.paragraphs:
            if para.role == "caption":
                carried = colon_cue = None
                continue
            sents = [s for s in (self.doc.sentence(i) for i in para.sentence_ids) if s]
            if not sents:
                continue
            quotes = _quotes(self.text, sents[0].start, para.end)
            self._para_quotes = quotes
            used: set[tuple[int, int]] = set()
            last_quoted: int | None = None
            start_count = len(self.raws)
            opens_quote = bool(quotes) and quotes[0][0] == sents[0].start
            if colon_cue is not None and opens_quote:
                # the quote a colon announced at the end of the previous paragraph
                used.add(quotes[0])
                src, cue = self._colon_pending[colon_cue]
                span = make_span(self.text, quotes[0][0], quotes[0][1], " ")
                if span is not None:
                    self.raws.append(_Raw(src, cue, span, True, None))
                    last_quoted = len(self.raws) - 1
            elif colon_cue is not None and para.role == "body" and not quotes:
                # "Limbaugh added:" then the paragraph it announces, set off without
                # quote marks: the paragraph is what was said
                src, cue = self._colon_pending[colon_cue]
                span = make_span(
                    self.text, sents[0].start, _content_end(self.text, sents[0].start, para.end)
                )
                if span is not None:
                    self.raws.append(_Raw(src, cue, span, False, None))
            elif carried is not None and opens_quote:
                # news style: a quote running on over paragraphs keeps its speaker
                self._pending_carry = carried
            colon_cue = None
            for sent in sents:
                before = len(self.raws)
                self._sentence(sent, quotes, used)
                added = self.raws[before:]
                quoted = [k for k, r in enumerate(added, before) if r.direct]
                if quoted:
                    last_quoted = quoted[-1]
                if not added and last_quoted is not None:
                    self._continuation(sent, quotes, used, last_quoted)
                elif added and not quoted:
                    last_quoted = None
            if last_quoted is not None:
                self._split_tail(quotes, used, last_quoted, para.end)
            own = self.raws[start_count:]
            if (
                self._pending_carry is not None
                and not any(r.continues is None for r in own)
                and quotes
                and quotes[0] not in used
            ):
                prev = self.raws[self._pending_carry]
                span = make_span(self.text, quotes[0][0], quotes[0][1], " ")
                if span is not None:
                    used.add(quotes[0])
                    self.raws.append(_Raw(prev.source, prev.cue, span, True, self._pending_carry))
                    own = self.raws[start_count:]
            self._pending_carry = None
            carried = (
                next((start_count + k for k in range(len(own) - 1, -1, -1) if own[k].direct), None)
                if own
                else None
            )
            self._colon_pending = [
                (src, cue) for src, cue in self._colon_pending if cue.end >= sents[-1].start
            ]
            colon_cue = 0 if self._colon_pending else None
        return self.raws

    def _continuation(
        self, sent: Sentence, quotes: list[tuple[int, int]], used: set[tuple[int, int]], k: int
    ) -> None:
        for q in quotes:
            if q not in used and q[0] == sent.start:
                used.add(q)
                prev = self.raws[k]
                span = make_span(self.text, q[0], q[1], " ")
                if span is not None:
                    self.raws.append(_Raw(prev.source, prev.cue, span, True, k))

    def _split_tail(
        self, quotes: list[tuple[int, int]], used: set[tuple[int, int]], k: int, end: int
    ) -> None:
        """``“…,” he said, “…”``: the quote right after the cue continues the first."""
        prev = self.raws[k]
        anchor = max(
            (s.end for s in (prev.cue, prev.source) if s is not None), default=prev.content.end
        )
        for q in quotes:
            if q in used or q[0] < anchor:
                continue
            gap = self.text[anchor : q[0]]
            if (
                len(gap) <= 40
                and "." not in gap.replace("U.S.", "")
                and gap.strip().startswith(",")
            ):
                used.add(q)
                span = make_span(self.text, q[0], q[1], " ")
                if span is not None:
                    self.raws.append(_Raw(prev.source, prev.cue, span, True, k))
            break

    def _sentence(
        self, sent: Sentence, quotes: list[tuple[int, int]], used: set[tuple[int, int]]
    ) -> None:
        text = self.text
        s0, s1 = sent.start, sent.end
        inside = [q for q in quotes if q[0] < s1 and q[1] > s0]
        self._signature(sent, inside, used)
        # a transcript quoted paragraph by paragraph opens each with a quote mark
        lead = s0 + 1 if text[s0] in '"“' and s1 > s0 + 1 else s0
        colon = _COLON_LEAD.match(text, lead, s1)
        if (
            colon is not None
            and len(colon.group("name")) > 1  # not "Q:" / "A:"
            and colon.group("name").lower() not in _EDITORIAL_LABELS
        ):  # "Lynch: No outside influence…" / "TAPPER: And…"
            stop = s1 - 1 if lead > s0 and text[s1 - 1] in '"”' else s1
            content = make_span(text, colon.end(), _content_end(text, colon.end(), stop))
            if content is not None and len(content.text.split()) >= 2:
                src = TextSpan(lead, colon.end("name"), text[lead : colon.end("name")])
                cue = TextSpan(colon.end("name"), colon.end("name") + 1, ":")
                self.raws.append(_Raw(src, cue, content, content.text[:1] in _OPEN_Q))
        for m in _ACCORDING.finditer(text, s0, s1):
            if any(q[0] < m.start() < q[1] for q in inside):
                continue
            self._according(sent, m.start(), m.end())
        for m in _PUT_AT.finditer(text, s0, s1):
            if any(q[0] < m.start() < q[1] for q in inside):
                continue
            self._put_at(sent, m)
        for m in _ASKED.finditer(text, s0, s1):
            if any(q[0] < m.start() < q[1] for q in inside):
                continue
            # "Asked whether he would run, Smith said …": the question is the content
            stop = text.find(",", m.start("q"), s1)
            content = make_span(text, m.start("q"), stop if stop > 0 else s1)
            if content is not None:
                cue = TextSpan(m.start("cue"), m.end("cue"), m.group("cue"))
                self.raws.append(_Raw(None, cue, content, False))
        taken_until = s0
        cues = [
            m
            for m in _cue_matches(text, s0, s1)
            if not any(q[0] < m.start() < q[1] for q in inside)
        ]
        self._trail_cut = s1
        self._cues = cues
        self._sent_source: TextSpan | None = None
        tail_text = text[cues[-1].end() : s1] if cues else ""
        if cues and len(tail_text.split()) <= 6 and not re.search(r"\d|\bthat\b", tail_text):
            comma = text.rfind(",", s0, cues[-1].start())
            if comma > s0 and len(text[comma : cues[-1].start()].split()) <= 10:
                self._trail_cut = comma
        for m in cues:
            c0, c1 = m.start(), m.end()
            if c0 < taken_until or any(q[0] < c0 < q[1] for q in inside):
                continue
            verb = m.group("verb").lower()
            prev_word = re.findall(r"[\w’']+", text[max(s0, c0 - 30) : c0])
            if verb in _NOUNISH and (not prev_word or prev_word[-1].lower() in _DETERMINERS):
                continue
            if verb in _NOUNISH and re.match(
                r"\s*(?:of|from|by|to|for|on|are|were|is|was|have|had|will|would|could|can)\b",
                text[c1 : c1 + 8],
            ):
                continue  # a noun: "news reports of …", "as claims are filed"
            if verb in _NEEDS_THAT and not _THAT.match(text, c1):
                continue
            raw = self._cue(sent, m, inside, used)
            if raw is not None:
                self.raws.append(raw)
                if raw.source is not None:
                    self._sent_source = raw.source
                taken_until = c1

    def _signature(
        self, sent: Sentence, inside: list[tuple[int, int]], used: set[tuple[int, int]]
    ) -> None:
        """``“…” ― Name``: a sentence that is a quote signed by its speaker."""
        if not inside or inside[0][0] != sent.start or inside[-1][1] > sent.end:
            return
        m = _SIGNATURE.match(self.text, inside[-1][1], sent.end)
        if m is None:
            return
        name = m.group("name")
        src = TextSpan(m.start("name"), m.end("name"), name)
        content = make_span(self.text, inside[0][0], inside[-1][1], " ")
        if content is None or not _source_ok(name.split(",")[0]):
            return
        used.update(inside)
        cue = TextSpan(m.start("dash"), m.end("dash"), m.group("dash"))
        self.raws.append(_Raw(src, cue, content, True))

    @staticmethod
    def _object_ok(rest: TextSpan, verb: str) -> bool:
        if verb in _TO_VERBS and re.match(r"to\s", rest.text):
            return True
        return not re.match(r"(?:by|at|to|with|in|during|after|before|since|on|as)\b", rest.text)

    def _cut_at_next_clause(self, a: int, end: int) -> int:
        """End an indirect content before ``, SOURCE CUE`` of a second attribution."""
        text = self.text
        for m in self._cues:
            if a < m.start() < end:
                src = _source_left(text, a, m.start())
                if src is None:
                    continue
                k = src.start - 1
                while k > a and text[k].isspace():
                    k -= 1
                # ", while the Red Cross said …": a conjunction may open the second clause
                conj = _CLAUSE_CONJ.search(text, a, k + 1)
                if conj is not None:
                    k = conj.start() - 1
                    while k > a and text[k].isspace():
                        k -= 1
                if text[k] == ",":
                    return _content_end(text, a, k)
        return end

    def _put_at(self, sent: Sentence, m: re.Match[str]) -> None:
        """``The Red Cross put the number of missing at more than 200``: an estimate
        whose content is the measured quantity and its figure."""
        text = self.text
        src = _source_left(text, sent.start, m.start("cue"))
        if src is None:
            return
        stop = re.compile(r"[,;]|\.(?:\s|$)").search(text, m.end(), sent.end)
        end = stop.start() if stop else _content_end(text, m.end(), sent.end)
        content = make_span(text, m.start("obj"), end)
        if content is not None:
            cue = TextSpan(m.start("cue"), m.end("cue"), m.group("cue"))
            self.raws.append(_Raw(src, cue, content, False))

    def _according(self, sent: Sentence, a0: int, a1: int) -> None:
        text = self.text
        stop = re.compile(r",|;|\.(?:\s|$)|”|\"|\s[–—-]\s|—").search(text, a1, sent.end)
        src = make_span(text, a1, stop.start() if stop else _content_end(text, a1, sent.end))
        if src is not None and len(src.text.split()) > 20:
            src = None
        if src is None:
            return
        cue = TextSpan(a0, a1, text[a0:a1])
        before = make_span(text, sent.start, a0)
        if before is not None and len(before.text.split()) >= 3:
            content = make_span(text, sent.start, a0)
        else:
            content = make_span(text, src.end, _content_end(text, src.end, sent.end))
        if content is not None:
            direct = content.text[:1] in _OPEN_Q
            self.raws.append(_Raw(src, cue, content, direct))

    def _cue(
        self,
        sent: Sentence,
        m: re.Match[str],
        inside: list[tuple[int, int]],
        used: set[tuple[int, int]],
    ) -> _Raw | None:
        text = self.text
        s0, s1 = sent.start, sent.end
        c0, c1 = m.start(), m.end()
        cue = TextSpan(c0, c1, text[c0:c1])
        verb = m.group("verb").lower()

        # trailing: a quote closes shortly before the cue
        prior = [q for q in self._para_quotes if q[1] <= c0 and q not in used]
        if prior:
            q = prior[-1]
            gap = text[q[1] : c0]
            # a quote ending the previous sentence ("…?” Trump said.) only when this
            # sentence is just the speaker tag
            cross_ok = q[1] > s0 or (
                (len(text[c1:s1].split()) <= 8 or _TAG_TAIL.match(text, c1, s1) is not None)
                and _THAT.match(text, c1, s1) is None
            )
            if len(gap.split()) <= 25 and cross_ok and not _GAP_SENTENCE.search(gap):
                src = make_span(text, q[1], c0)
                if src is None:  # “…,” said Smith
                    src = _source_right(text, c1, s1)
                else:
                    src = _source_left(text, q[1], c0) or src
                content = make_span(text, q[0], q[1], " ")
                if content is not None:
                    used.add(q)
                    return _Raw(src, cue, content, True)

        # what follows the cue: skip time words and, after tell-verbs, the addressee
        pos = c1
        t = _TIME.match(text, pos, s1)
        if t:
            pos = t.end()
        that = _THAT.match(text, pos, s1)
        if that is None:
            near = re.match(r"[^,;:“\"”]{0,60}?\s(?=that\s)", text[pos:s1])
            if near is not None and len(near.group(0).split()) <= 8:
                pos += near.end()
                that = _THAT.match(text, pos, s1)
        if that is None and verb in _TELL_VERBS:
            obj = re.match(
                r"\s*(?:[\w.’'\-]+\s*){1,5}?(?=\s(?:that|the|a|an|he|she|they|it|we|i)\b|[,:“\"]|$)",
                text[pos:s1],
            )
            if obj and obj.end() < s1 - pos:
                pos += obj.end()
                t = _TIME.match(text, pos, s1)
                if t:
                    pos = t.end()
            elif obj:
                pos = s1
        # "SOURCE said, “…”" / "SOURCE said: “…”"
        lead_q = re.match(r"\s*[,:]?\s*", text[pos:s1])
        qstart = pos + (lead_q.end() if lead_q else 0)
        follow = [q for q in inside if q[0] == qstart and q not in used]
        if follow and text[c1:qstart].strip(" ,:") == text[c1:pos].strip(" ,:"):
            src = _source_left(text, s0, c0)
            if src is not None:
                used.add(follow[0])
                content = make_span(text, follow[0][0], follow[0][1], " ")
                if content is not None:
                    return _Raw(src, cue, content, True)
        # "Claim, said Jane Doe, a professor."
        before = text[s0:c0].rstrip()
        if (
            before.endswith(",")
            and text[c1 : c1 + 2].strip()[:1].isupper()
            and not verb.endswith("ing")
            and not any(s0 <= o.start() < c0 for o in self._cues)
        ):
            src = _source_right(text, c1, s1)
            comma = s0 + len(before) - 1
            content = make_span(text, _strip_lead(text, s0, comma), comma)
            if src is not None and content is not None and len(content.text.split()) >= 3:
                return _Raw(src, cue, content, content.text[:1] in _OPEN_Q)
        rest = make_span(text, pos, s1)
        if m.group(0).endswith(":") and rest is None:
            self._colon_pending = [(_source_left(text, s0, c0), cue)]
            return None
        if rest is not None and rest.text[:1] == ",":
            rest = None
        if rest is not None and verb in _OBJECT_VERBS and self._object_ok(rest, verb):
            src = _source_left(text, s0, c0)
            if src is None and verb.endswith("ing") and text[s0:c0].rstrip().endswith(","):
                src = self._sent_source or _source_left(text, s0, _first_comma(text, s0, c0))
            if src is not None:
                stop = _OBJECT_STOP.search(text, rest.start, s1)
                end = stop.start() if stop else _content_end(text, rest.start, s1)
                end = self._cut_at_next_clause(rest.start, end)
                content = make_span(text, rest.start, end, " ")
                if content is not None:
                    return _Raw(src, cue, content, content.text[:1] in _OPEN_Q)
            return None
        if (
            rest is not None
            and (
                len(rest.text.split()) >= 3
                or (len(rest.text.split()) == 2 and rest.text.split()[0].lower() in _PRONOUNS)
            )
            and not re.match(r"(?:of|about(?!\s+\d)|on|by|at|to|for|with|in|during)\b", rest.text)
        ):
            src = _source_left(text, s0, c0)
            participle = verb.endswith("ing") and re.search(r",\s*$", text[s0:c0]) is not None
            if src is None and (participle or re.search(r"\band\s+$", text[s0:c0])):
                src = self._sent_source
                if src is None and participle:
                    src = _source_left(text, s0, _first_comma(text, s0, c0))
            a = rest.start
            after_q = [q for q in inside if q[0] == a]
            cut = self._trail_cut if self._trail_cut > a else s1
            end = after_q[0][1] if after_q else _content_end(text, a, cut)
            if after_q:
                used.add(after_q[0])
            else:
                end = self._cut_at_next_clause(a, end)
            content = make_span(text, a, end, " ")
            if content is not None and (src is not None or c0 - s0 < 3 or that is not None):
                direct = content.text[:1] in _OPEN_Q
                return _Raw(src, cue, content, direct)

        # trailing without quotes: "Claim, SOURCE said."
        comma = text.rfind(",", s0, c0)
        if comma > s0 and self._trail_cut == comma and not text[comma + 1 : c0].strip():
            # "Claim, the council's highways director, Graham Peel, said at …"
            appos = _source_left(text, s0, c0)
            lead = text.rfind(",", s0, appos.start) if appos is not None else -1
            if appos is not None and lead > s0:
                content = make_span(text, _strip_lead(text, s0, lead), lead)
                if content is not None and len(content.text.split()) >= 3:
                    return _Raw(appos, cue, content, content.text[:1] in _OPEN_Q)
        if comma > s0 and self._trail_cut == comma:
            src = make_span(text, comma + 1, c0)
            if (
                src is not None
                and len(src.text.split()) <= 10
                and not any(ch in src.text for ch in '“”"')
            ):
                src = _source_left(text, comma + 1, c0) or src
            else:
                src = _source_right(text, c1, s1) if src is None else None
            content = make_span(text, _strip_lead(text, s0, comma), comma)
            if content is not None and src is not None and len(content.text.split()) >= 3:
                return _Raw(src, cue, content, content.text[:1] in _OPEN_Q)
        return None


_PERSON_NAME = re.compile(
    r"(?:(?:[A-Z][a-z]{0,3}\.|[A-Z]\.)\s*){0,2}[A-Z][a-z’'\-]+(?:\s+(?:[A-Z]\.|[A-Z][a-z’'\-]+)){1,3}"
)


def _head_name(source: str) -> str:
    """The part of a source phrase that names the speaker (the proper name of an
    appositive pair, else the whole phrase)."""
    parts = [p.strip() for p in source.split(",") if p.strip()]
    if len(parts) > 1:
        # "Coastline Rail's chief executive, Sandra Lowe": the part that is all name
        for p in parts:
            if _PERSON_NAME.fullmatch(p) and not _ORG.search(p) and not _OUTLET.search(p):
                return p
    for p in parts:
        if _TITLE.search(p) or (
            len(_CAP_WORD.findall(p)) >= 2
            and not _ORG.search(p)
            and p[:1].isupper()
            and not _OUTLET.search(p)
        ):
            return p
    return parts[0] if parts else source


def speaker_type(source: str) -> SpeakerType:
    """Classify a source phrase: outlet, document, anonymous, organization or person
    (``unknown`` when nothing fits)."""
    head = source.split(",")[0].strip()
    lower = head.lower()
    words = lower.split()
    if not words:
        return "unknown"
    if words[0] in _PRONOUNS:
        return "person" if words[0] in ("he", "she", "i") else "unknown"
    if _DOCUMENT.search(head) and not _TITLE.search(head):
        first_noun = re.search(
            r"\b(?:(?:message|report|statement|memo|letter|document|poll|survey)s?|study|"
            r"studies|data|records?|filings?|e-?mails?|tweets?|posts?|videos?|estimates?|"
            r"analysis|transcripts?|census|complaints?|lawsuits?|indictments?|rulings?|"
            r"releases?|audits?|inquiry|reviews?)\b",
            lower,
        )
        if first_noun and first_noun.start() <= 25:
            return "document"
    if (
        _OUTLET.search(head)
        and not _TITLE.search(head)
        and not _ANON_HEAD.search(_core_phrase(head))  # "A YPG media official"
    ):
        return "outlet"
    if _TITLE.search(source) and not _INDEFINITE.match(head):
        return "person"
    caps = [
        w
        for w in _CAP_WORD.findall(head)
        if w.lower() not in ("the", "a", "an")
        and not _ANON_HEAD.fullmatch(w.lower())
        and not _INDEFINITE.fullmatch(w.lower())
    ]
    core = _core_phrase(head)
    if (
        _ANON_HEAD.search(core)
        and _INDEFINITE.match(core)
        and not _TITLE.search(core)
        and not any(_ACRONYM.match(w) for w in core.split()[1:])
    ):
        # "A senior official at the transport ministry": an unnamed person, whatever
        # institution the modifier names
        return "anonymous"
    if (
        _ANON_HEAD.search(head)
        and (
            _INDEFINITE.match(head)
            or (not caps and not _ACRONYM.match(head.split()[0]))
            or lower.startswith("the ")
        )
        and not _ORG.search(re.sub(r"\bofficials?\b", "", head))
    ):
        return "anonymous"
    if _ORG.search(head) or any(_ACRONYM.match(w) for w in head.split()):
        return "organization"
    if caps or _PERSON_ROLE.search(head):
        return "person"
    return "unknown"


_POST_MODIFIER = re.compile(
    r"\s(?:at|of|for|from|in|with|within|inside|on|close\s+to|familiar\s+with|"
    r"briefed\s+on|involved\s+in|who|whose|that)\s",
    re.IGNORECASE,
)


#: "<estimates|figures|data|a report> from|by WHO": the speaker is WHO.
_DOCUMENT_FROM = re.compile(
    r"^(?:(?:the|a|an|new|initial|early|earlier|latest|preliminary|official|recent|its|"
    r"their)\s+){0,3}(?:estimates?|figures|data|numbers|statistics|report|reports|"
    r"projections?|forecasts?|counts?|tallies|tally|calculations?)\s+(?:from|by)\s+"
    r"(?P<who>[^,;]{3,80})$",
    re.IGNORECASE,
)


def _core_phrase(head: str) -> str:
    """The noun phrase before its first post-modifier ("A senior official" of "A senior
    official at the transport ministry")."""
    m = _POST_MODIFIER.search(head)
    return head[: m.start()] if m else head


def _anon_head(name: str) -> str | None:
    m = list(_ANON_HEAD.finditer(name))
    return m[-1].group(0).lower().rstrip("s") if m else None


def rule_raws(doc: Document) -> list[_Raw]:
    """The attributions the rules find, before speakers are named and linked."""
    return [
        r
        if r.source is None or _source_ok(r.source.text)
        else _Raw(None, r.cue, r.content, r.direct, r.continues)
        for r in _Finder(doc).run()
    ]


def _model_raws(doc: Document, tagged: Sequence[Tagged]) -> list[_Raw]:
    return [_Raw(p.source, p.cue, p.content, p.direct, p.continues) for p in propose(doc, tagged)]


def _overlap(a: TextSpan | None, b: TextSpan | None) -> bool:
    return a is not None and b is not None and a.start < b.end and b.start < a.end


def combine(first: list[_Raw], second: list[_Raw]) -> list[_Raw]:
    """``first``'s attributions plus ``second``'s where ``first`` found nothing: one of
    ``second`` is kept when its content overlaps no content of ``first`` (and neither
    does the quote it continues), in text order."""
    kept = [
        r
        for r in second
        if not any(_overlap(r.content, m.content) for m in first)
        and (
            r.continues is None
            or not any(_overlap(second[r.continues].content, m.content) for m in first)
        )
    ]
    merged = [(r, first) for r in first] + [(r, second) for r in kept]
    # text order; where two start together the attribution a quote continues comes
    # first (the rules read “…,” inside a longer content as its continuation)
    merged.sort(key=lambda x: (x[0].content.start, x[0].continues is not None, x[0].content.end))
    position = {id(r): k for k, (r, _) in enumerate(merged)}
    out: list[_Raw] = []
    for k, (r, origin) in enumerate(merged):
        cont = position.get(id(origin[r.continues])) if r.continues is not None else None
        if cont is not None and cont >= k:
            cont = None  # a continuation only ever points back
        out.append(_Raw(r.source, r.cue, r.content, r.direct, cont))
    return out


def tagger_cues(lead: list[_Raw], tagged: Sequence[_Raw]) -> list[_Raw]:
    """``lead`` with each cue replaced by the tagger's where the tagger read the same
    statement (overlapping content) through an overlapping cue: the tagger's cue
    boundaries ("said", "according to", "has learned") are the closer to how news
    attribution is annotated."""
    out: list[_Raw] = []
    for r in lead:
        match = next(
            (m for m in tagged if _overlap(r.content, m.content) and _overlap(r.cue, m.cue)),
            None,
        )
        if match is not None:
            r = _Raw(r.source, match.cue, r.content, r.direct, r.continues)
        out.append(r)
    return out


#: Words that head a speaker phrase although the parser does not tag them as nouns
#: ("Many of his supporters", "some", "others").
_QUANTIFIER_HEADS = frozenset(words("many most some several few all both none each one any others"))
_NOMINAL_POS = frozenset({"NOUN", "PROPN", "PRON", "NUM", "X", "SYM"})
# tokens a trimmed speaker phrase never ends on
_TRIM_TAIL_POS = frozenset({"PUNCT", "CCONJ", "ADV", "PART", "AUX", "ADP", "DET"})
# nor starts on
_TRIM_LEAD_POS = frozenset({"PUNCT", "CCONJ", "ADP", "SCONJ"})


def _nominal(doc: Document, token: Token) -> bool:
    """Can ``token`` head a speaker phrase? Nouns, names and pronouns can; so can a
    quantifier ("many of whom") and a capitalised word the parser read as a verb or
    adjective ("Trump this week", "Tulsa police Chief …")."""
    if token.pos in _NOMINAL_POS or token.lower in _QUANTIFIER_HEADS:
        return True
    return token.pos in ("VERB", "ADJ") and doc.text[token.start].isupper()


def parsed_source(doc: Document, tagged: Sequence[Tagged], source: TextSpan) -> TextSpan | None:
    """``source`` checked against the parse: a speaker is a noun phrase. The phrase's
    heads are its tokens whose syntactic head lies outside it; when one of them is a
    verb, the rules took in a clause ("kept its full-year production | forecast",
    "The decision came just three days after the Security Council | said"). The speaker
    is then the noun phrase after the clause's last verb, next to the cue ("the
    Security Council"), or failing that the one before its first verb ("the Security
    Council issued a statement | …" gives "the Security Council"); with neither there
    is no speaker (``None``). A source the parse does not cover is kept as it is."""
    where = locate(tagged, source)
    if where is None:
        return source
    seq, (a, b) = where
    heads = [k for k in range(a, b) if not a <= seq[k].head < b or seq[k].head == k]
    verbs = [k for k in heads if seq[k].pos in ("VERB", "AUX") and not _nominal(doc, seq[k])]
    if not verbs:
        # no clause; but a phrase without a noun ("yet", "aside from") names no one,
        # and an adverb of the cue's is no part of the name ("Gingrich cynically")
        if not any(_nominal(doc, seq[k]) for k in heads):
            return None
        end = b
        while end > a + 1 and end - 1 in heads and seq[end - 1].pos == "ADV":
            end -= 1
        if end == b:
            return source
        return make_span(doc.text, source.start, min(seq[end - 1].end, source.end))

    def head_of(k: int) -> int:
        seen = 0
        while a <= seq[k].head < b and seq[k].head != k and seen < b - a:
            k, seen = seq[k].head, seen + 1
        return k

    after = [
        k
        for k in heads
        if k > verbs[-1]
        and seq[k].pos in ("NOUN", "PROPN", "PRON")
        and seq[k].dep not in ("poss", "compound")
    ]
    if any(seq[k].lower in _VERB_SET for k in verbs):
        after = []  # "Clinton said she | …": the speaker is before the reporting verb
    if after:
        phrase = [k for k in range(a, b) if head_of(k) == after[-1]]
    else:
        phrase = [k for k in range(a, verbs[0]) if seq[k].start >= source.start]
        while phrase and seq[phrase[-1]].pos in _TRIM_TAIL_POS:
            phrase.pop()
    while phrase and seq[phrase[0]].pos in _TRIM_LEAD_POS:
        phrase.pop(0)
    if not any(seq[k].pos in ("NOUN", "PROPN", "PRON") for k in phrase):
        return None
    return make_span(
        doc.text, max(seq[phrase[0]].start, source.start), min(seq[phrase[-1]].end, source.end)
    )


def _parsed_sources(doc: Document, tagged: Sequence[Tagged], raws: list[_Raw]) -> list[_Raw]:
    """``raws`` with each source checked by :func:`parsed_source`."""
    return [
        r
        if r.source is None
        else _Raw(parsed_source(doc, tagged, r.source), r.cue, r.content, r.direct, r.continues)
        for r in raws
    ]


def find_attributions(doc: Document, mode: Mode = "combined") -> tuple[Attribution, ...]:
    """All attributions found in the kept paragraphs of ``doc`` (titles, headings and
    captions are skipped by the rules), in text order.

    ``mode`` picks the finder: ``rules`` (hand-written patterns, no parser), ``model``
    (the trained tagger over the parse) or ``combined`` (the rules, with the tagger's
    cue where both read the same statement and each speaker phrase checked against the
    parse (:func:`parsed_source`), plus the tagger's attributions where the rules found
    nothing; see :func:`combine`). Speaker types come from the parse and its
    entities whenever the parser ran.

    Guarantees: every span is a slice of ``doc.text``; ids are ``A1..An``; ``linked_to``
    only points to an earlier attribution and always to the first one of its speaker;
    ``resolved`` is the source span of that first attribution.
    """
    if mode == "rules":
        return _assemble(doc, rule_raws(doc), None)
    tagged = attribution_tagger().tag(doc)
    raws = _model_raws(doc, tagged)
    if mode == "combined":
        # the rules are precise where they fire: they lead, the tagger adds the rest;
        # the parse vets the speakers they read
        lead = _parsed_sources(doc, tagged, rule_raws(doc))
        raws = combine(tagger_cues(lead, raws), raws)
    return _assemble(doc, raws, tagged)


def _typer(
    doc: Document, raws: Sequence[_Raw], tagged: Sequence[Tagged] | None
) -> Callable[[TextSpan], SpeakerType]:
    """Speaker typing for the sources of ``raws``: the rules' lexicons, refined by the
    parse head and the entities of each source phrase when the parse is at hand."""
    if tagged is None:
        return lambda span: speaker_type(span.text)
    spans = {(r.source.start, r.source.end): r.source for r in raws if r.source is not None}
    rule_types = {key: speaker_type(span.text) for key, span in spans.items()}
    located = {key: locate(tagged, span) for key, span in spans.items()}
    # the entity recogniser runs, in one batch, only where the type depends on it
    order = [
        span
        for key, span in spans.items()
        if (where := located[key]) is not None and needs_entities(rule_types[key], *where)
    ]
    ents = entities([s.text for s in order]) if order else []
    found = {
        (s.start, s.end): [(s.start + a, s.start + b, lab) for a, b, lab in e]
        for s, e in zip(order, ents, strict=True)
    }

    def typed(span: TextSpan) -> SpeakerType:
        key = (span.start, span.end)
        rule_type = rule_types.get(key) or speaker_type(span.text)
        where = located[key] if key in located else locate(tagged, span)
        if where is None:
            return rule_type
        return parsed_type(rule_type, where[0], where[1], found.get(key, []))

    return typed


#: How far back (characters) "it" looks for the institution it stands for.
IT_REACH = 400
_BODY_TYPES: frozenset[SpeakerType] = frozenset({"organization", "outlet", "document"})
#: A source mention: (start, canonical name, type, canonical attribution id, text).
_Mention = tuple[int, str, SpeakerType, str, str]


def _plural(phrase: str) -> bool:
    """Roughly: the phrase ends in a plural common noun ("Insurers", "the banks")."""
    words = phrase.split()
    last = words[-1] if words else ""
    return (
        last.endswith("s")
        and not last.endswith(("ss", "us", "is"))
        and (
            last[:1].islower() or len(words) == 1 or (len(words) == 2 and words[0].lower() == "the")
        )
    )


def _recent_body(mentions: Sequence[_Mention], at: int) -> tuple[str, SpeakerType, str] | None:
    """What a source "it" at offset ``at`` stands for: the latest source mentioned within
    :data:`IT_REACH` characters before it, when that is one institution, outlet or
    document ("The company said it would appeal, and it added …")."""
    for start, name, stype, aid, text in reversed(mentions):
        if start >= at:
            continue
        if at - start > IT_REACH or stype not in _BODY_TYPES or _plural(text):
            return None
        return name, stype, aid
    return None


def _assemble(
    doc: Document, raws: list[_Raw], tagged: Sequence[Tagged] | None
) -> tuple[Attribution, ...]:
    typer = _typer(doc, raws, tagged)
    index = SentenceIndex(doc)
    out: list[Attribution] = []
    # canonical speakers: (name, type, first attribution id)
    persons: list[tuple[str, str]] = []  # (name, id) of named people, in order
    known: list[tuple[str, SpeakerType, str]] = []
    mentions: list[_Mention] = []
    last_mention: dict[str, int] = {}
    by_source: dict[tuple[int, int], int] = {}
    for k, r in enumerate(raws):
        aid = f"A{k + 1}"
        name: str | None = None
        stype: SpeakerType = "unknown"
        linked: str | None = None
        if r.continues is not None:
            first = out[r.continues]
            name, stype = first.speaker_name, first.speaker_type
            linked = first.linked_to or first.id
        elif r.source is not None and (r.source.start, r.source.end) in by_source:
            # the same source phrase as an earlier attribution ("said …, referring to")
            first = out[by_source[(r.source.start, r.source.end)]]
            name, stype = first.speaker_name, first.speaker_type
            linked = first.linked_to or first.id
        elif r.source is not None:
            src = r.source.text
            stype = typer(r.source)
            name = _head_name(src)
            vehicle = _DOCUMENT_FROM.match(src)
            if vehicle is not None:
                # "Initial estimates from the United Nations": the estimates speak for
                # the United Nations
                name = vehicle.group("who")
                stype = speaker_type(name)
            lower = src.lower()
            first_word = lower.split()[0]
            if first_word in _PERSON_PRONOUNS and persons:
                name, linked = persons[-1]
                stype = "person"
            elif lower == "it" and (body := _recent_body(mentions, r.source.start)):
                name, stype, linked = body
            elif lower.startswith("the ") and stype == "anonymous":
                head = _anon_head(src)
                words = set(lower.split()) - {"the"}
                best: tuple[int, int] | None = None
                for kname, ktype, kid in known:
                    if (
                        ktype == "anonymous"
                        and head
                        and _anon_head(kname) == head
                        and (not kname.lower().startswith("the "))
                    ):
                        score = (len(words & set(kname.lower().split())), last_mention[kid])
                        if best is None or score > best:
                            best = score
                            name, linked = kname, kid
            elif stype in ("person", "organization", "outlet"):
                last = name.split()[-1] if name.split() else ""
                for kname, ktype, kid in known:
                    if (
                        ktype == stype
                        and kname != name
                        and (
                            kname.split()[-1:] == [last] and len(name.split()) < len(kname.split())
                        )
                        # "officials", "sources": a generic head names no one in particular
                        and not _ANON_HEAD.fullmatch(last.lower())
                    ):
                        name, linked = kname, kid
                        break
                    if kname.casefold() == name.casefold():
                        linked = kid
                        break
        if r.source is not None and linked is None:
            known.append((name or r.source.text, stype, aid))
            if stype == "person":
                persons.append((name or r.source.text, aid))
        elif linked is not None and stype == "person" and name:
            persons.append((name, linked))
        last_mention[linked or aid] = k
        if r.source is not None:
            by_source.setdefault((r.source.start, r.source.end), k)
            mentions.append(
                (r.source.start, name or r.source.text, stype, linked or aid, r.source.text)
            )
        # a continuation's evidence is its own quote, not the earlier speaker tag
        parts = (r.content,) if r.continues is not None else (r.source, r.cue, r.content)
        spans = [s for s in parts if s is not None]
        lo = min(s.start for s in spans)
        hi = max(s.end for s in spans)
        out.append(
            Attribution(
                id=aid,
                source=r.source,
                cue=r.cue,
                content=r.content,
                speaker_name=name,
                speaker_type=stype,
                direct_quote=r.direct,
                sentence_ids=index.covering(lo, hi),
                linked_to=linked,
                resolved=_mention(out, linked),
            )
        )
    return tuple(out)


def _mention(out: Sequence[Attribution], linked: str | None) -> TextSpan | None:
    """The source span of the attribution ``linked`` names (the resolved mention)."""
    if linked is None:
        return None
    first = next((a for a in out if a.id == linked), None)
    if first is None or first.source is None:
        return None
    src, name = first.source, first.speaker_name
    at = src.text.find(name) if name else -1
    if name and at >= 0:
        return TextSpan(src.start + at, src.start + at + len(name), name)
    return src
