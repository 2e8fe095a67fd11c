"""One analysis, as a short composition of stages (each one module, each a plain
function of its inputs; only the model stage does I/O):

    prepare (text)          -> Document: normalised, deduplicated, numbered sentences;
                               text addressed to a model and page furniture set aside
    find_all (analyzers)    -> Findings: attributions, uncertainty cues, figures, conflicts
    ask_model (generate)    -> the model's id-cited summary and claims, schema-validated
    ground (grounding)      -> spans (spans), aligned quotes, evidence; support (support)
    merge (merge)           -> rule flags and claims joined in; speaker checks (speakers),
                               then the flags of the claims that pass them
    complete (summarize)    -> the summary an editor can use, never short of sentences
    second_opinion (judge)  -> optional extra call that can only make verdicts stricter

Preparing and asking the model run in the event loop's turn (``turns``): analyses go
from their start to their first model call one at a time, first come first served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

from . import learned
from .analyzers import Findings, language_warnings
from .analyzers import analyze as find_all
from .generate import ModelOutput, ask_model, prompt_sha256
from .grounding import Grounded, ground, removed_text
from .judge import second_opinion
from .learned.consistency import encodings_cached
from .llm import LLM
from .llm_output import LLMAnalysis
from .merge import Merged, merge
from .prompts import PromptTemplate, load_prompt
from .schemas import (
    SCHEMA_VERSION,
    AnalysisRequest,
    AnalysisResponse,
    Component,
    Meta,
    SentenceRef,
    SummarySentence,
    Timings,
    TokenUsage,
)
from .settings import Settings
from .summarize import complete
from .text import Document, instruction_sentences, page_furniture, prepare
from .turns import prepare_then_ask

#: Articles at least this long are prepared and verified on a worker thread, so one long
#: article does not stall the event loop (and every other request) for its CPU time.
OFFLOAD_CHARS = 20_000
T = TypeVar("T")


async def _cpu(fn: Callable[[], T], offload: bool) -> T:
    return await asyncio.to_thread(fn) if offload else fn()


class _Prepared(NamedTuple):
    doc: Document
    findings: Findings
    blocked: frozenset[str]  # sentences addressed to a model
    furniture: frozenset[str]  # cookie notices, credit lines, related links


def _prepare(text: str) -> _Prepared:
    doc = prepare(text)
    return _Prepared(doc, find_all(doc), instruction_sentences(doc), page_furniture(doc))


async def analyze(
    request: AnalysisRequest,
    settings: Settings,
    llm: LLM,
    prompt: PromptTemplate | None = None,
) -> AnalysisResponse:
    """Analyse one article. Raises :class:`~service.errors.ModelError` subclasses when the
    model side fails; everything returned satisfies the offset contract."""
    t0 = time.perf_counter()
    model = request.options.model or settings.model
    prompt = prompt or load_prompt(settings.prompts_dir, "analyze", settings.prompt_version)
    big = len(request.text) >= OFFLOAD_CHARS
    n_summary = request.options.summary_sentences

    async def prepare_text() -> _Prepared:
        return await _cpu(lambda: _prepare(request.text), big)

    async def ask(p: _Prepared, client: LLM) -> ModelOutput:
        return await ask_model(
            client,
            model=model,
            prompt=prompt,
            doc=p.doc,
            findings=p.findings,
            blocked=p.blocked,
            title=request.title,
            summary_sentences=n_summary,
            max_reasks=settings.max_reasks,
            hidden=p.furniture,
        )

    (doc, findings, blocked, furniture), out = await prepare_then_ask(prepare_text, ask, llm)
    excluded = blocked | furniture  # never evidence, never a claim
    grounded, merged, (summary, rejected_summary) = await _cpu(
        lambda: _verify(doc, findings, out.analysis, n_summary, blocked, excluded), big
    )
    claims, rejected = merged.claims, [*grounded.rejected, *merged.rejected]
    attempts, usage, llm_ms = out.attempts, out.usage, out.llm_ms
    if request.options.verify_with_model:
        t_judge = time.perf_counter()
        judged = await second_opinion(
            llm,
            model=model,
            prompt=load_prompt(settings.prompts_dir, "judge", "v1"),
            claims=claims,
            max_reasks=settings.max_reasks,
        )
        llm_ms += (time.perf_counter() - t_judge) * 1000
        claims, rejected = judged.claims, rejected + judged.rejected
        attempts += judged.attempts
        usage.add(judged.usage)
    return AnalysisResponse(
        summary=summary,
        claims=claims,
        rejected_claims=rejected,
        flags=merged.flags,
        figures=merged.figures,
        rejected_summary=rejected_summary,
        sentences=[
            SentenceRef(id=s.id, start=s.start, end=s.end, paragraph=s.paragraph)
            for s in doc.sentences
        ],
        removed=removed_text(doc),
        meta=Meta(
            model=settings.model_label(model),
            prompt_version=prompt.label,
            prompt_sha256=prompt_sha256(prompt),
            schema_version=SCHEMA_VERSION,
            attempts=attempts,
            usage=TokenUsage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cost_usd=usage.cost_usd,
            ),
            timings_ms=Timings(
                total=round((time.perf_counter() - t0) * 1000, 2), llm=round(llm_ms, 2)
            ),
            warnings=_warnings(doc, blocked, furniture, [*out.warnings, *grounded.warnings])
            + language_warnings(findings.language),
            language=findings.language,
            components={
                c.name: Component(version=c.version, sha256=c.sha256)
                for c in learned.loaded().values()
            },
        ),
    )


def _verify(
    doc: Document,
    findings: Findings,
    analysis: LLMAnalysis,
    n_summary: int,
    blocked: frozenset[str],
    excluded: frozenset[str],
) -> tuple[Grounded, Merged, tuple[list[SummarySentence], list[SummarySentence]]]:
    """Ground the model's output, merge the rules' findings in, complete the summary;
    each distinct sentence is encoded once for the consistency scorer meanwhile."""
    with encodings_cached():
        grounded = ground(doc, analysis, n_summary, excluded)
        merged = merge(
            doc,
            findings,
            grounded.claims,
            grounded.flags,
            len(analysis.claims) + 1,
            excluded,
            instructions=blocked,
        )
        return grounded, merged, complete(doc, grounded.summary, n_summary, excluded)


def _warnings(
    doc: Document, blocked: frozenset[str], furniture: frozenset[str], found: list[str]
) -> list[str]:
    warnings = list(found)
    if furniture:
        warnings.append(
            f"{', '.join(sorted(furniture, key=lambda i: int(i[1:])))} read as page furniture "
            "(cookie notice, credit line, related links); left out of the analysis"
        )
    if doc.removed:
        warnings.insert(
            0, f"{len(doc.removed)} repeated paragraph(s) left out of the analysis (see removed)"
        )
    if blocked:
        warnings.append(
            f"{', '.join(sorted(blocked, key=lambda i: int(i[1:])))} read as instructions to "
            "an AI model (possible prompt injection); never used as evidence"
        )
    if not doc.sentences:
        warnings.append("no sentences found in the text")
    return warnings
