"""Deterministic, model-free article analysis: attributions, uncertainty cues, figures,
the byline.

:func:`analyze` is pure and deterministic; every span it returns satisfies
``doc.text[span.start:span.end] == span.text``.
"""

from __future__ import annotations

from collections.abc import Callable

from service.analyzers.attributions import find_attributions
from service.analyzers.attributions_es import find_attributions_es
from service.analyzers.byline import find_byline
from service.analyzers.figures import find_conflicts, find_figures
from service.analyzers.findings import (
    Attribution,
    CueType,
    Figure,
    FigureConflict,
    Findings,
    SpeakerType,
    TextSpan,
    UncertaintyCue,
)
from service.analyzers.uncertainty import find_cues, uncertain_sentences
from service.language import detect, is_english
from service.text import Document

__all__ = [
    "ATTRIBUTION_FINDERS",
    "Attribution",
    "CueType",
    "Figure",
    "FigureConflict",
    "Findings",
    "SpeakerType",
    "TextSpan",
    "UncertaintyCue",
    "analyze",
    "language_warnings",
]

#: Attribution rules for languages other than English, by ISO 639-1 code.
ATTRIBUTION_FINDERS: dict[str, Callable[[Document], tuple[Attribution, ...]]] = {
    "es": find_attributions_es,
}


def analyze(doc: Document) -> Findings:
    """Attributions, uncertainty cues, figures and figure conflicts of ``doc``.

    Deterministic: the same document always gives equal findings (the parser and the
    tagger's weights load once per process; nothing else is read or kept). Text in
    another language than English gets its ``language`` set and no English analysis:
    a language of :data:`ATTRIBUTION_FINDERS` gets the attributions of its own rules
    (Spanish: :mod:`.attributions_es`), other languages empty findings. Never raises on
    a document produced by ``text.prepare``.
    """
    language = detect(" ".join(s.text for s in doc.sentences))
    if not is_english(language):
        finder = ATTRIBUTION_FINDERS.get(language or "")
        found = finder(doc) if finder is not None else ()
        return Findings(found, (), (), (), frozenset(), language, find_byline(doc))
    attributions = find_attributions(doc)
    cues = find_cues(doc)
    figures = find_figures(doc, attributions, cues)
    return Findings(
        attributions=attributions,
        cues=cues,
        figures=figures,
        conflicts=find_conflicts(figures),
        uncertain_sentence_ids=uncertain_sentences(cues),
        language=language,
        byline=find_byline(doc),
    )


def language_warnings(language: str | None) -> list[str]:
    """The ``meta.warnings`` line for text the English analyzers did not read (none for
    English or an unknown language): what was left out, and where attributions come
    from when the language has rules of its own."""
    if is_english(language):
        return []
    if language in ATTRIBUTION_FINDERS:
        return [
            f"the text reads as language {language!r}, not English: hedges and figures "
            "were not analysed (those analyzers read English only); attributions come "
            "from reporting-verb rules for this language"
        ]
    return [
        f"the text reads as language {language!r}, not English: attributions, hedges and "
        "figures were not analysed (the analyzers read English only)"
    ]
