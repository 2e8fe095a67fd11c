"""Eval cases: an article plus the gold answer an editor expects from FactDesk.

Gold refers to the article by *substrings*, never by sentence ids, so a case stays valid
when segmentation changes. Every substring is checked against the text when a case is
loaded: a case whose gold does not occur in its article never reaches a run.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.schemas import FlagType, SpeakerType

#: Where the committed cases live.
DATASETS_DIR = Path(__file__).resolve().parent / "datasets"

#: Outcome of a case: ``ok`` (an analysis came back) or the problem slug of the error.
Outcome = str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldClaim(_Strict):
    """A claim the analysis must contain: its evidence (a substring of the article lying
    in the sentence that carries the claim) and, optionally, who asserted it."""

    evidence: str = Field(..., min_length=3)
    speaker: str | None = Field(None, description="Speaker as written; null: the outlet.")
    aliases: list[str] = Field(default_factory=list, description="Other acceptable names.")
    speaker_type: SpeakerType | list[SpeakerType] | None = Field(
        None, description="Acceptable speaker type(s); null: any."
    )

    def speaker_types(self) -> frozenset[str] | None:
        """The acceptable speaker types, or ``None`` when any type is accepted."""
        if self.speaker_type is None:
            return None
        if isinstance(self.speaker_type, str):
            return frozenset([self.speaker_type])
        return frozenset(self.speaker_type)


class GoldFlag(_Strict):
    """A flag that must be raised: its type and a substring it must touch."""

    type: FlagType
    evidence: str = Field(..., min_length=2)


class GoldConflict(_Strict):
    """Figures for one quantity that disagree; a conflict flag must touch two of them."""

    quantity: str
    figures: list[str] = Field(..., min_length=2)


class MustNot(_Strict):
    """Text that must not be presented as grounded (a claim in ``claims`` or a summary
    sentence that is not ``unsupported``): ``pattern`` is a case-insensitive regex;
    a match is excused when ``unless`` also matches the same text."""

    pattern: str
    unless: str | None = None
    where: Literal["claims", "summary", "both"] = "both"
    why: str = ""

    @model_validator(mode="after")
    def _compiles(self) -> MustNot:
        re.compile(self.pattern)
        if self.unless:
            re.compile(self.unless)
        return self


class Gold(_Strict):
    """What a good analysis of the case contains (and must not contain)."""

    expect: Outcome = Field("ok", description="`ok` or the expected problem slug.")
    claims: list[GoldClaim] = Field(default_factory=list)
    optional_claims: list[GoldClaim] = Field(
        default_factory=list, description="Acceptable claims: count for precision only."
    )
    flags: list[GoldFlag] = Field(default_factory=list)
    optional_flags: list[GoldFlag] = Field(
        default_factory=list, description="Acceptable flags: count for precision only."
    )
    conflicts: list[GoldConflict] = Field(default_factory=list)
    summary_must_carry: list[list[str]] = Field(
        default_factory=list,
        description="Facts; each is a list of terms that must all occur in the summary. "
        "A term may list alternatives separated by `|`.",
    )
    must_not: list[MustNot] = Field(default_factory=list)
    removed_min: int | None = Field(
        None, ge=1, description="At least this many repeated paragraphs must be dropped."
    )


class Case(_Strict):
    """One eval case. ``id`` names its dataset file and its cassette."""

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str | None = None
    description: str = ""
    text: str = Field(..., min_length=1)
    gold: Gold
    source: str | None = Field(None, description="Where the article comes from.")

    @model_validator(mode="after")
    def _gold_in_text(self) -> Case:
        missing = [s for s in self.gold_substrings() if s not in self.text]
        if missing:
            raise ValueError(f"gold substring(s) not in the article: {missing[:3]}")
        return self

    def gold_substrings(self) -> Iterable[str]:
        """Every substring the gold refers to."""
        g = self.gold
        for claim in (*g.claims, *g.optional_claims):
            yield claim.evidence
        for flag in (*g.flags, *g.optional_flags):
            yield flag.evidence
        for conflict in g.conflicts:
            yield from conflict.figures

    def locate(self, substring: str) -> tuple[int, int]:
        """``(start, end)`` of the first occurrence of ``substring`` in the text."""
        start = self.text.find(substring)
        if start < 0:
            raise ValueError(f"{substring!r} does not occur in case {self.id}")
        return start, start + len(substring)


def load_case(path: Path) -> Case:
    """Load and validate one case file; its ``id`` must equal the file name stem."""
    case = Case.model_validate(json.loads(path.read_text(encoding="utf-8")))
    if case.id != path.stem:
        raise ValueError(f"{path}: id {case.id!r} does not match the file name")
    return case


def load_cases(directory: Path = DATASETS_DIR, pattern: str = "*") -> list[Case]:
    """The cases in ``directory`` whose id matches the glob ``pattern`` (comma-separated
    globs allowed), sorted by id. Raises ``ValueError`` when none match."""
    globs = [p.strip() for p in pattern.split(",") if p.strip()] or ["*"]
    cases = [
        load_case(path)
        for path in sorted(directory.glob("*.json"))
        if any(fnmatch.fnmatchcase(path.stem, g) for g in globs)
    ]
    if not cases:
        raise ValueError(f"no case in {directory} matches {pattern!r}")
    return cases


# ----------------------------------------------------------------------------- PolNeAR

_ANN_LINE = re.compile(r"^([TE]\d+)\t(.*)$")


def _ann_attributions(ann: str, text: str) -> list[tuple[str, str]]:
    """``(source text, content text)`` of each attribution with a source in a brat file;
    discontinuous spans keep their first fragment."""
    spans: dict[str, tuple[int, int]] = {}
    pairs: list[tuple[str, str]] = []
    events: list[dict[str, str]] = []
    for line in ann.splitlines():
        m = _ANN_LINE.match(line)
        if m is None:
            continue
        tid, rest = m.groups()
        if tid.startswith("T"):
            offsets = rest.split("\t", 1)[0].partition(" ")[2]
            nums = offsets.split(";")[0].split()
            if len(nums) == 2 and nums[0].isdigit() and nums[1].isdigit():
                spans[tid] = (int(nums[0]), int(nums[1]))
        else:
            events.append(dict(p.split(":", 1) for p in rest.split() if ":" in p))
    for ev in events:
        if "Attribution" not in ev or "Source" not in ev or "Content" not in ev:
            continue
        src, content = spans.get(ev["Source"]), spans.get(ev["Content"])
        if src is None or content is None:
            continue
        pairs.append((text[src[0] : src[1]], text[content[0] : content[1]]))
    return pairs


def load_polnear(root: Path, split: str = "dev", limit: int = 5) -> list[Case]:
    """Cases drawn from PolNeAR (``root/<split>/text`` and ``attributions``): gold claims
    are its sourced attributions (content as evidence, source as speaker, any type).
    Returns ``[]`` when ``root`` does not exist. Flags and summary are not scored."""
    text_dir = root / split / "text"
    ann_dir = root / split / "attributions"
    if not text_dir.is_dir() or not ann_dir.is_dir():
        return []
    cases: list[Case] = []
    for path in sorted(text_dir.glob("*.txt")):
        if len(cases) >= limit:
            break
        anns = sorted(ann_dir.glob(f"{path.stem}_*.ann"))
        if not anns:
            continue
        text = path.read_text(encoding="utf-8")
        claims = [
            GoldClaim(evidence=content.strip(), speaker=source.strip())
            for source, content in _ann_attributions(anns[0].read_text(encoding="utf-8"), text)
            if len(content.strip()) >= 3 and content.strip() in text
        ]
        if not claims:
            continue
        slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:60]
        cases.append(
            Case(
                id=f"polnear-{slug}",
                title=None,
                description=f"PolNeAR {split}: {path.name}",
                text=text,
                gold=Gold(claims=claims),
                source=f"polnear/{split}/text/{path.name}",
            )
        )
    return cases
