"""The model stage: ask the LLM about a prepared article, get back validated output.

Two prompt shapes exist. ``analyze.v1`` asks for everything in one call. ``analyze.v2``
(built for small local models) makes two focused calls that share the article as their
prompt prefix (a server with a prompt cache, like llama.cpp's, reads it once): one for
the summary, one for the claims, where the speaker is chosen from the names the rule
analyzers found (a schema enum, so constrained decoding cannot invent one) and the
attributed sentences are listed as hints. Both shapes return one
:class:`~service.llm_output.LLMAnalysis` for grounding.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from .analyzers import Findings
from .analyzers.attributions import speaker_type
from .errors import ModelOutputInvalid, Usage
from .llm import LLM, StructuredResult, complete_structured
from .llm_output import (
    MAX_TEXT_CHARS,
    OUTLET_SPEAKER,
    UNNAMED_SPEAKER,
    V2_MAX_CLAIM_CHARS,
    V2_MAX_CLAIMS,
    V2_MAX_SUMMARY_CHARS,
    LLMAnalysis,
    LLMClaim,
    LLMSpeakerType,
    LLMSummarySentence,
    V2Claims,
    V2Summary,
    base_schema,
    response_schema,
    v2_base_schemas,
    v2_claims_schema,
    v2_summary_schema,
)
from .prompts import PromptTemplate, render_analyze, render_task
from .spans import article_wording, ground_ids
from .text import Document

#: Offered speaker names and attribution hints are capped so the prompt stays short.
MAX_SPEAKERS = 20
MAX_HINTS = 20
#: The speaker list of the claims prompt when the rules named nobody.
FREE_SPEAKERS_NOTE = (
    f'- (none found: write the speaker as the article names them, with "speaker_type"; '
    f'"{OUTLET_SPEAKER}" when the article states it, "{UNNAMED_SPEAKER}" when it names '
    "no source)"
)
_PRONOUNS = frozenset({"he", "she", "they", "it", "we", "i", "you", "his", "her", "their"})


@dataclass
class ModelOutput:
    """What the model said (normalised to one shape) and what it cost."""

    analysis: LLMAnalysis
    attempts: int
    usage: Usage
    llm_ms: float
    warnings: list[str] = field(default_factory=list)


def prompt_sha256(prompt: PromptTemplate) -> str:
    """The prompt's identity as reported in ``meta.prompt_sha256``: every template and
    the base response schema(s) of its shape."""
    if prompt.tasks:
        return prompt.sha256(*v2_base_schemas())
    return prompt.sha256(base_schema())


def speaker_choices(
    findings: Findings, hidden: frozenset[str] = frozenset()
) -> dict[str, LLMSpeakerType]:
    """Speaker names the rules found (name -> type), plus the outlet and an unnamed
    source; pronouns are never offered as speakers, nor names found only in ``hidden``
    sentences."""
    out: dict[str, LLMSpeakerType] = {}
    for att in findings.attributions:
        if hidden & set(att.sentence_ids):
            continue
        name = att.speaker_name or (att.source.text if att.source else None)
        if not name:
            continue
        name = " ".join(name.split())
        if len(name) < 3 or name.lower() in _PRONOUNS or len(name) > 120:
            continue
        out.setdefault(name, att.speaker_type)
        if len(out) >= MAX_SPEAKERS:
            break
    out[OUTLET_SPEAKER] = "outlet"
    out[UNNAMED_SPEAKER] = "anonymous"
    return out


def attribution_hints(findings: Findings, blocked: frozenset[str]) -> str:
    """One line per attributed statement the rules found: sentence id, speaker, cue."""
    lines: list[str] = []
    for att in findings.attributions:
        if blocked & set(att.sentence_ids) or not att.sentence_ids:
            continue
        name = att.speaker_name or (att.source.text if att.source else "unnamed")
        cue = att.cue.text if att.cue else "-"
        lines.append(f"- {att.sentence_ids[0]}: {' '.join(name.split())} ({cue})")
        if len(lines) >= MAX_HINTS:
            break
    return "\n".join(lines) or "- (none found)"


async def _single(
    llm: LLM,
    model: str,
    prompt: PromptTemplate,
    doc: Document,
    title: str | None,
    n_summary: int,
    max_reasks: int,
) -> ModelOutput:
    t = time.perf_counter()
    result = await complete_structured(
        llm,
        model=model,
        messages=render_analyze(prompt, doc, title=title, summary_sentences=n_summary),
        output_model=LLMAnalysis,
        schema=response_schema(n_summary, [s.id for s in doc.sentences]),
        max_reasks=max_reasks,
    )
    return ModelOutput(
        result.value, result.attempts, result.usage, (time.perf_counter() - t) * 1000
    )


#: A text within this many characters of its schema limit is taken as stopped by it (the
#: constrained decoder has been seen to close a string one character short of it).
CUT_SLACK = 5


def _uncut(doc: Document, text: str, ids: list[str], limit: int) -> str:
    """``text``, or, when it stopped at the schema's length ``limit`` while copying the
    cited sentences (perhaps inside a word: "…, the tera"), the copy run on to the end
    of the sentence, in the article's own words (within :data:`MAX_TEXT_CHARS`)."""
    if len(text) < limit - CUT_SLACK:
        return text
    cited, _ = ground_ids(doc, ids)
    whole = article_wording(doc, text, cited, cut=True)
    return whole if whole is not None and len(whole) <= MAX_TEXT_CHARS else text


def _v2_claims(
    doc: Document, claims: V2Claims, speakers: dict[str, LLMSpeakerType]
) -> list[LLMClaim]:
    out: list[LLMClaim] = []
    for c in claims.claims:
        kind = speakers.get(c.speaker) or _free_type(c.speaker, c.speaker_type)
        name = None if c.speaker in (OUTLET_SPEAKER, UNNAMED_SPEAKER) else c.speaker
        out.append(
            LLMClaim(
                text=_uncut(doc, c.text, [c.sentence], V2_MAX_CLAIM_CHARS),
                speaker=name,
                speaker_type=kind,
                cue=(c.cue or None),
                sentences=[c.sentence],
                quote=None,
            )
        )
    return out


def _free_type(name: str, said: LLMSpeakerType | None) -> LLMSpeakerType:
    """The type of a speaker the model named itself: the rules' typing of the name when
    it is definite, else what the model said."""
    typed = speaker_type(name)
    return typed if typed != "unknown" else (said or "unknown")


async def _focused(
    llm: LLM,
    model: str,
    prompt: PromptTemplate,
    doc: Document,
    findings: Findings,
    blocked: frozenset[str],
    hidden: frozenset[str],
    title: str | None,
    n_summary: int,
    max_reasks: int,
) -> ModelOutput:
    ids = [s.id for s in doc.sentences if s.id not in hidden]
    speakers = speaker_choices(findings, hidden)
    # nobody named by the rules (another language, or no attribution they know): the
    # model writes names itself, and the speaker check looks for them near the evidence
    free = set(speakers) <= {OUTLET_SPEAKER, UNNAMED_SPEAKER}
    summary_call = complete_structured(
        llm,
        model=model,
        messages=render_task(
            prompt,
            doc,
            "summary",
            title=title,
            values={"summary_sentences": str(n_summary)},
            hidden=hidden,
        ),
        output_model=V2Summary,
        schema=v2_summary_schema(n_summary, ids),
        max_reasks=max_reasks,
    )
    claims_call = complete_structured(
        llm,
        model=model,
        messages=render_task(
            prompt,
            doc,
            "claims",
            title=title,
            values={
                "max_claims": str(V2_MAX_CLAIMS),
                "outlet": OUTLET_SPEAKER,
                "unnamed": UNNAMED_SPEAKER,
                "speakers": FREE_SPEAKERS_NOTE
                if free
                else "\n".join(f"- {name}" for name in speakers),
                "attributions": attribution_hints(findings, blocked | hidden),
            },
            hidden=hidden,
        ),
        output_model=V2Claims,
        schema=v2_claims_schema(ids, list(speakers), free_speakers=free),
        max_reasks=max_reasks,
    )
    t = time.perf_counter()
    # in order: a one-slot local server then answers the second call from the cached
    # article prefix; a hosted provider simply sees two requests
    results = await asyncio.gather(summary_call, claims_call, return_exceptions=True)
    llm_ms = (time.perf_counter() - t) * 1000
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, ModelOutputInvalid):
            raise r
    invalid = [r for r in results if isinstance(r, ModelOutputInvalid)]
    if len(invalid) == len(results):
        raise invalid[0]
    usage, attempts, warnings = Usage(), 0, []
    summary: list[LLMSummarySentence] = []
    claims: list[LLMClaim] = []
    for name, r in zip(("summary", "claims"), results, strict=True):
        if isinstance(r, ModelOutputInvalid):
            usage.add(r.record.usage)
            attempts += r.record.attempts
            warnings.append(
                f"the model's {name} stayed invalid after {r.record.attempts} call(s); "
                f"the {name} comes from the article and the rules only"
            )
            continue
        assert isinstance(r, StructuredResult)
        usage.add(r.usage)
        attempts += r.attempts
        if isinstance(r.value, V2Summary):
            summary = [
                LLMSummarySentence(
                    text=_uncut(doc, s.text, s.sentences, V2_MAX_SUMMARY_CHARS),
                    sentences=s.sentences,
                )
                for s in r.value.summary
            ]
        elif isinstance(r.value, V2Claims):
            claims = _v2_claims(doc, r.value, speakers)
    analysis = LLMAnalysis.model_construct(summary=summary, claims=claims, flags=[])
    return ModelOutput(analysis, attempts, usage, llm_ms, warnings)


async def ask_model(
    llm: LLM,
    *,
    model: str,
    prompt: PromptTemplate,
    doc: Document,
    findings: Findings,
    blocked: frozenset[str],
    title: str | None,
    summary_sentences: int,
    max_reasks: int,
    hidden: frozenset[str] = frozenset(),
) -> ModelOutput:
    """Run the prompt's calls against ``model``; raises the transport's ``ModelError``,
    or :class:`ModelOutputInvalid` when no call gave valid output."""
    if prompt.tasks:
        return await _focused(
            llm,
            model,
            prompt,
            doc,
            findings,
            blocked,
            hidden,
            title,
            summary_sentences,
            max_reasks,
        )
    return await _single(llm, model, prompt, doc, title, summary_sentences, max_reasks)
