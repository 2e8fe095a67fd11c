"""Result types of the deterministic analyzers (frozen, hashable, offset-exact)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SpeakerType = Literal["person", "organization", "anonymous", "outlet", "document", "unknown"]
CueType = Literal[
    "speculation", "belief", "estimate", "approximation", "reported", "condition", "investigation"
]


@dataclass(frozen=True, slots=True)
class TextSpan:
    """A slice of the original input: always ``text == doc.text[start:end]``."""

    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who said (or believes, or wrote) what: source, cue and content spans.

    ``speaker_name`` is the canonical name of the speaker (its first full mention);
    ``linked_to`` is the id of the earlier attribution whose speaker this one refers to,
    and ``resolved`` that attribution's source span (the mention that names the
    speaker ``source`` refers to, e.g. "Gen. Joseph Votel" for "he").
    """

    id: str
    source: TextSpan | None
    cue: TextSpan | None
    content: TextSpan
    speaker_name: str | None
    speaker_type: SpeakerType
    direct_quote: bool
    sentence_ids: tuple[str, ...]
    linked_to: str | None
    resolved: TextSpan | None = None


@dataclass(frozen=True, slots=True)
class UncertaintyCue:
    """A word or phrase that makes its sentence uncertain, with its kind."""

    span: TextSpan
    type: CueType
    sentence_id: str


@dataclass(frozen=True, slots=True)
class Figure:
    """A number in the text with what it counts, who gives it and when (when known)."""

    span: TextSpan
    value: float
    counted: str | None
    source: str | None
    time: str | None
    sentence_id: str
    approximate: bool
    #: What happened to the people counted ("dead", "missing", "injured", "displaced",
    #: "detained"), when the clause says.
    status: str | None = None


@dataclass(frozen=True, slots=True)
class FigureConflict:
    """Figures for the same quantity with different values from different sources."""

    quantity: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True, slots=True)
class Findings:
    """Everything the deterministic analyzers found in one document.

    ``language`` is the detected language of the text (``None``: no confident guess);
    for a language other than English the analyzers did not run and all is empty.
    """

    attributions: tuple[Attribution, ...]
    cues: tuple[UncertaintyCue, ...]
    figures: tuple[Figure, ...]
    conflicts: tuple[FigureConflict, ...]
    uncertain_sentence_ids: frozenset[str]
    language: str | None = None
    #: The author a byline names ("By Daniel Reyes"), the voice of the text itself.
    byline: str | None = None
