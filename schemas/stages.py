"""Config pieces of the preference stages, shared by the flow config, the tasks and `prefect.yaml`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

_FORBID = ConfigDict(extra="forbid")


class PolicyConfig(BaseModel):
    """One policy model sampled for every prompt."""

    model_config = _FORBID
    engine: str = Field(..., description="Name of an entry under `engines`")
    n: int = Field(2, ge=1, le=64, description="Responses sampled per prompt")
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass")
    max_tokens: int = Field(256, ge=1, description="Longest response in tokens (set it: servers' defaults differ)")
    seed: int = Field(0, description="Base seed; completion i uses seed + i")
    system_prompt: str | None = Field(None, description="Prepended as a system message to text prompts")


class JudgeConfig(BaseModel):
    """A pairwise judge: rationale first, then a 5-level verdict, asked in both orders."""

    model_config = _FORBID
    engine: str = Field(..., description="Name of an entry under `engines`")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Judging temperature (0 = greedy)")
    max_tokens: int = Field(384, ge=16, description="Longest judge reply (rationale + verdict)")
    seed: int = Field(0, description="Judge seed")
    reask: bool = Field(True, description="Ask once more, constrained to the verdict labels, when a reply has none")
    max_response_chars: int = Field(
        6000, ge=100, description="Responses longer than this are cut (marked) in the judging prompt"
    )


class DedupeConfig(BaseModel):
    """Near-duplicate responses of one prompt are collapsed before judging (rapidfuzz ratio)."""

    model_config = _FORBID
    enabled: bool = True
    threshold: float = Field(95.0, ge=0.0, le=100.0, description="rapidfuzz ratio (0–100) at or above which two responses are duplicates")


class PositionSwapFilter(BaseModel):
    """Keep a pair only if the judge picks the same winner in both orders (Zheng et al. 2023, MT-Bench)."""

    model_config = _FORBID
    kind: Literal["position_swap"] = "position_swap"


class DropTiesFilter(BaseModel):
    """Drop pairs whose aggregated margin is zero (no preference to learn from)."""

    model_config = _FORBID
    kind: Literal["drop_ties"] = "drop_ties"


FilterConfig = Annotated[PositionSwapFilter | DropTiesFilter, Field(discriminator="kind")]
