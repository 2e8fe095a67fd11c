"""Which language an article is written in, from stop words and scripts (no model).

Each Latin-script language has a profile of its most frequent function words; the
language whose words make up the largest share of the text's words wins, provided it
covers enough of them. Texts mostly in a non-Latin script are named by that script's
main language (Cyrillic: ``ru``, Arabic: ``ar``, Han/Kana: ``zh``/``ja``, ...).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_PROFILES: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the of and to in is that for it was on with as he be by at are this his "
        "from but have not they an were which has had she their been would will said "
        "who its or we there after more about when them than also",
        "es": "el la de que y en los se del las un por con no una su para es al lo como "
        "más pero sus le ya o este sí porque esta entre cuando muy sin sobre también "
        "me hasta hay donde quien desde todo nos durante todos uno les ni contra otros",
        "fr": "le la de et les des en un du une que est pour qui dans par sur au pas ne "
        "plus avec ce il se sont aux elle mais ou son sa ses cette été leur nous ont "
        "comme tout lui je fait être deux aussi",
        "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein "
        "eine als auch es an werden aus er hat dass sie nach wird bei einer um am sind "
        "noch wie einem über einen so zum war haben nur oder aber vor zur bis mehr",
        "it": "il di che la e in un per è del non una sono da le si gli con ha al dei "
        "della nel alla anche come più ma lo ci questo delle sul sua suo essere tra "
        "nella quando degli loro dopo cui",
        "pt": "o de a que e do da em um para é com não uma os no se na por mais as dos "
        "como mas foi ao ele das tem à seu sua ou ser quando muito há nos já está eu "
        "também só pelo pela até isso ela entre depois sem mesmo aos",
        "nl": "de het een van en in is dat op te zijn met voor niet die aan er om ook "
        "als bij maar door wordt uit naar dan worden nog wel heeft geen hij over zij "
        "tot kan deze meer werd waren",
    }.items()
}
_SCRIPTS = (
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("GREEK", "el"),
    ("DEVANAGARI", "hi"),
    ("HANGUL", "ko"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("CJK", "zh"),
    ("THAI", "th"),
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
#: Below this many words the guess is not worth making.
MIN_WORDS = 8
#: The winning profile must cover at least this share of the words.
MIN_SHARE = 0.12


def _script(text: str) -> str | None:
    letters = 0
    counts: dict[str, int] = {}
    for ch, n in Counter(text[:20000]).items():  # each distinct character looked up once
        if not ch.isalpha():
            continue
        letters += n
        name = unicodedata.name(ch, "")
        for prefix, lang in _SCRIPTS:
            if name.startswith(prefix):
                counts[lang] = counts.get(lang, 0) + n
                break
    if not letters:
        return None
    if not counts:
        return None
    lang, n = max(counts.items(), key=lambda kv: kv[1])
    if n / letters > 0.5:
        # kana anywhere makes Han text Japanese
        if lang == "zh" and counts.get("ja", 0) > 0.05 * letters:
            return "ja"
        return lang
    return None


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is mostly written in, or ``None``
    when it is too short or matches no profile well enough. Deterministic, never
    raises, reads at most the first 20,000 characters."""
    script = _script(text)
    if script is not None:
        return script
    words = [w.casefold() for w in _WORD.findall(text[:20000])]
    if len(words) < MIN_WORDS:
        return None
    scores = {
        lang: sum(1 for w in words if w in profile) / len(words)
        for lang, profile in _PROFILES.items()
    }
    lang, share = max(scores.items(), key=lambda kv: (kv[1], kv[0] == "en"))
    return lang if share >= MIN_SHARE else None


def is_english(language: str | None) -> bool:
    """True when the English analyzers apply: English, or no confident guess."""
    return language in (None, "en")
