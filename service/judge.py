"""Optional second opinion: ask the model whether the evidence supports the claims the
rule checks leave uncertain. One extra call; its verdict can only make a claim stricter
(a model saying "supported" never overrides a failed rule check)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from string import Template
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .errors import Usage
from .llm import LLM, complete_structured
from .prompts import PromptTemplate
from .schemas import Claim, Reason, RejectedClaim, Verification


class LLMJudgement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    claim: str = Field(..., pattern=r"^C[1-9][0-9]{0,4}$")
    verdict: Literal["supported", "unsupported", "unclear"]
    reason: str = Field("", max_length=300)


class LLMJudgements(BaseModel):
    model_config = ConfigDict(extra="ignore")

    judgements: list[LLMJudgement] = Field(..., max_length=50)


@dataclass(frozen=True)
class Judged:
    """Claims after the second opinion, the newly rejected ones, and what it cost."""

    claims: list[Claim]
    rejected: list[RejectedClaim]
    attempts: int
    usage: Usage


def uncertain(claims: Sequence[Claim]) -> list[Claim]:
    """Claims worth a second opinion: model-made and only partially supported."""
    return [
        c for c in claims if c.origin != "rules" and c.verification.status == "partially_supported"
    ]


def render(prompt: PromptTemplate, claims: Sequence[Claim]) -> list[dict[str, str]]:
    """Chat messages listing each claim with its evidence sentences."""
    blocks = []
    for c in claims:
        evidence = " ".join(e.text for e in c.evidence)
        who = f" (according to {c.speaker.name})" if c.speaker.name else ""
        blocks.append(f"{c.id}: {c.text}{who}\nEvidence: {' '.join(evidence.split())}")
    user = Template(prompt.user).safe_substitute(claims="\n\n".join(blocks))
    return [
        {"role": "system", "content": prompt.system.strip()},
        {"role": "user", "content": user.strip()},
    ]


async def second_opinion(
    llm: LLM,
    *,
    model: str,
    prompt: PromptTemplate,
    claims: Sequence[Claim],
    max_reasks: int,
) -> Judged:
    """Judge the uncertain claims; a claim judged unsupported moves to the rejected list
    with the model's reason, others keep their rule verdict plus the model's note."""
    todo = uncertain(claims)
    if not todo:
        return Judged(list(claims), [], 0, Usage())
    result = await complete_structured(
        llm,
        model=model,
        messages=render(prompt, todo),
        output_model=LLMJudgements,
        schema=LLMJudgements.model_json_schema(),
        max_reasks=max_reasks,
    )
    verdicts = {j.claim: j for j in result.value.judgements}
    kept: list[Claim] = []
    rejected: list[RejectedClaim] = []
    for claim in claims:
        j = verdicts.get(claim.id)
        if j is None or claim not in todo:
            kept.append(claim)
            continue
        note = j.reason.strip() or "no reason given"
        if j.verdict == "unsupported":
            reasons = [
                *claim.verification.reasons,
                Reason(code="model-judged-unsupported", message=f"second opinion: {note}"),
            ]
            rejected.append(RejectedClaim.of(claim, reasons))
            continue
        updated = claim.model_copy(deep=True)
        updated.verification = Verification(
            status=claim.verification.status,
            reasons=[
                *claim.verification.reasons,
                Reason(code=f"model-judged-{j.verdict}", message=f"second opinion: {note}"),
            ],
        )
        kept.append(updated)
    return Judged(kept, rejected, result.attempts, result.usage)
