"""The model-facing schema: what the LLM must return. Evidence is cited by sentence id.

Kept small and flat so that small local models can fill it; the pipeline turns it into
the public contract (:mod:`service.schemas`) after grounding and verification.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SentenceId = Annotated[str, StringConstraints(pattern=r"^S[1-9][0-9]{0,4}$")]
LLMSpeakerType = Literal["person", "organization", "anonymous", "outlet", "document", "unknown"]
LLMFlagType = Literal[
    "hedge", "estimate", "conflicting_figures", "anonymous_source", "second_hand", "unverified"
]

MAX_CLAIMS = 10
MAX_FLAGS = 10
#: The longest summary sentence or claim text the analysis carries.
MAX_TEXT_CHARS = 400


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class LLMSummarySentence(_Lenient):
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS)
    sentences: list[SentenceId] = Field(..., min_length=1, max_length=5)


class LLMClaim(_Lenient):
    text: str = Field(..., min_length=1, max_length=MAX_TEXT_CHARS)
    speaker: str | None = Field(None, max_length=150)
    speaker_type: LLMSpeakerType
    cue: str | None = Field(None, max_length=40)
    sentences: list[SentenceId] = Field(..., min_length=1, max_length=4)
    quote: str | None = Field(None, max_length=600)


class LLMFlag(_Lenient):
    type: LLMFlagType
    sentences: list[SentenceId] = Field(..., min_length=1, max_length=4)
    cue: str = Field(..., min_length=1, max_length=100)


class LLMAnalysis(_Lenient):
    summary: list[LLMSummarySentence] = Field(..., min_length=1, max_length=10)
    claims: list[LLMClaim] = Field(..., max_length=MAX_CLAIMS)
    flags: list[LLMFlag] = Field(default_factory=list, max_length=MAX_FLAGS)


@functools.lru_cache(maxsize=1)
def base_schema() -> dict[str, Any]:
    """The model-facing JSON schema as pydantic generates it (computed once; copy before
    changing it)."""
    return LLMAnalysis.model_json_schema()


#: Above this many sentences the ids are constrained by pattern only (schema size).
MAX_ENUM_IDS = 400


def response_schema(
    summary_sentences: int, sentence_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """JSON schema sent to the model: the summary bounded to the request's length and,
    when the article is not huge, sentence ids limited to the article's own (a provider
    that constrains decoding by the schema then cannot cite a sentence that does not
    exist)."""
    schema = copy.deepcopy(base_schema())
    schema["properties"]["summary"]["maxItems"] = summary_sentences
    schema["required"] = ["summary", "claims", "flags"]
    if sentence_ids and len(sentence_ids) <= MAX_ENUM_IDS:
        ids = list(sentence_ids)
        for name in ("LLMSummarySentence", "LLMClaim", "LLMFlag"):
            schema["$defs"][name]["properties"]["sentences"]["items"] = {
                "type": "string",
                "enum": ids,
            }
    return schema


# --- analyze.v2: focused calls for small models -------------------------------------
# The article is the shared prefix of both calls (llama.cpp's prompt cache reads it once);
# the model writes little free text and picks ids and speakers from lists the code offers,
# so a small model selects rather than invents. Every string and list is bounded, so the
# output length (and so the latency) cannot ride on the token cap.

V2_MAX_SUMMARY_CHARS = 220
V2_MAX_CLAIMS = 8
V2_MAX_CLAIM_CHARS = 200


class V2SummarySentence(_Lenient):
    text: str = Field(..., min_length=1, max_length=V2_MAX_SUMMARY_CHARS)
    sentences: list[SentenceId] = Field(..., min_length=1, max_length=2)


class V2Summary(_Lenient):
    summary: list[V2SummarySentence] = Field(..., min_length=1, max_length=10)


class V2Claim(_Lenient):
    sentence: SentenceId
    speaker: str = Field(..., min_length=1, max_length=120)
    #: Asked for only when the speaker is written freely (no names to choose from).
    speaker_type: LLMSpeakerType | None = None
    cue: str | None = Field(None, max_length=30)
    text: str = Field(..., min_length=1, max_length=V2_MAX_CLAIM_CHARS)


class V2Claims(_Lenient):
    claims: list[V2Claim] = Field(..., max_length=V2_MAX_CLAIMS)


#: The outlet itself, and an unnamed source: speaker choices always offered.
OUTLET_SPEAKER = "the article itself"
UNNAMED_SPEAKER = "an unnamed source"


@functools.lru_cache(maxsize=2)
def v2_base_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The v2 summary and claims schemas as pydantic generates them (computed once)."""
    return V2Summary.model_json_schema(), V2Claims.model_json_schema()


def v2_summary_schema(summary_sentences: int, sentence_ids: Sequence[str]) -> dict[str, Any]:
    """Schema of the summary call: at most ``summary_sentences`` sentences, ids limited to
    the article's own (when the article is not huge)."""
    schema = copy.deepcopy(v2_base_schemas()[0])
    schema["properties"]["summary"]["maxItems"] = summary_sentences
    if sentence_ids and len(sentence_ids) <= MAX_ENUM_IDS:
        schema["$defs"]["V2SummarySentence"]["properties"]["sentences"]["items"] = {
            "type": "string",
            "enum": list(sentence_ids),
        }
    return schema


#: The speaker types a model may give a speaker it names itself.
FREE_SPEAKER_TYPES = ("person", "organization", "anonymous", "document", "outlet")
V2_MAX_FREE_SPEAKER_CHARS = 80


def v2_claims_schema(
    sentence_ids: Sequence[str], speakers: Sequence[str], free_speakers: bool = False
) -> dict[str, Any]:
    """Schema of the claims call: the cited sentence one of the article's ids and the
    speaker one of the offered names (the rules' speakers, the outlet, an unnamed
    source). With ``free_speakers`` (the rules named nobody: another language, or no
    attribution they recognise) the model writes the speaker's name, bounded, and its
    type."""
    schema = copy.deepcopy(v2_base_schemas()[1])
    claim = schema["$defs"]["V2Claim"]
    props = claim["properties"]
    if sentence_ids and len(sentence_ids) <= MAX_ENUM_IDS:
        props["sentence"] = {"type": "string", "enum": list(sentence_ids)}
    if free_speakers:
        props["speaker"] = {
            "type": "string",
            "minLength": 1,
            "maxLength": V2_MAX_FREE_SPEAKER_CHARS,
        }
        props["speaker_type"] = {"type": "string", "enum": list(FREE_SPEAKER_TYPES)}
        claim["required"] = [*claim.get("required", []), "speaker_type"]
        # the type right after the name
        order = ["sentence", "speaker", "speaker_type"]
        claim["properties"] = {k: props[k] for k in [*order, *(k for k in props if k not in order)]}
    else:
        del props["speaker_type"]
        if speakers:
            props["speaker"] = {"type": "string", "enum": list(dict.fromkeys(speakers))}
    return schema
