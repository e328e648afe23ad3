"""Config pieces of the preference stages, shared by the flow config, the tasks and `prefect.yaml`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FORBID = ConfigDict(extra="forbid")


class PolicyConfig(BaseModel):
    """One policy model sampled for every prompt."""

    model_config = _FORBID
    kind: Literal["sample"] = "sample"
    engine: str = Field(..., description="Name of an entry under `engines`")
    n: int = Field(2, ge=1, le=64, description="Responses sampled per prompt")
    temperature: float = Field(0.8, ge=0.0, le=2.0, description="Sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass")
    max_tokens: int = Field(256, ge=1, description="Longest response in tokens (set it: servers' defaults differ)")
    seed: int = Field(0, description="Base seed; completion i uses seed + i")
    system_prompt: str | None = Field(None, description="Prepended as a system message to text prompts")


class ImportedResponsesConfig(BaseModel):
    """No sampling: the build's samples are the responses of imported judgments whose prompt text matches one of
    the build's prompts (so juries and filters can run over pairs the pipeline did not produce).
    """

    model_config = _FORBID
    kind: Literal["imported"]
    judges: list[str] | None = Field(
        None, description="Imported judge names whose lines supply responses; default: the build's imported jurors"
    )


PolicySpec = Annotated[PolicyConfig | ImportedResponsesConfig, Field(discriminator="kind")]


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
    """Drop pairs whose jury majority is a tie, or that have no parsed vote (no preference to learn from)."""

    model_config = _FORBID
    kind: Literal["drop_ties"] = "drop_ties"


class AgreementFilter(BaseModel):
    """Keep a pair only if at least `min_agreement` of the jurors' votes are for its label (PoLL, Verga et al. 2024)."""

    model_config = _FORBID
    kind: Literal["agreement"] = "agreement"
    min_agreement: float = Field(0.75, ge=0.0, le=1.0, description="Fraction q of votes that must agree")


class StrengthFilter(BaseModel):
    """Preference strength (Secrets of RLHF II, Wang et al. 2024): keep |μ| ≥ τ and σ ≤ s, where μ and σ are the
    mean and std of the jurors' votes (−2..2) for the chosen response; flip the label when μ ≤ −τ if asked.
    """

    model_config = _FORBID
    kind: Literal["strength"] = "strength"
    min_strength: float = Field(0.5, ge=0.0, description="τ, on the vote scale −2..2 (every protocol)")
    max_std: float | None = Field(None, ge=0.0, description="s: drop pairs whose margins spread more than this")
    flip: bool = Field(False, description="When μ ≤ −τ, swap chosen and rejected instead of dropping the pair")


class LengthBiasFilter(BaseModel):
    """WildBench (Lin et al. 2024): a "slightly better" verdict for a response more than K characters longer
    than the other counts as a tie; pairs that become ties are dropped, others are re-counted.
    """

    model_config = _FORBID
    kind: Literal["length_bias"] = "length_bias"
    max_chars: int = Field(500, ge=0, description="K: length lead (characters) beyond which a slight win is a tie")


class NearDuplicatePairFilter(BaseModel):
    """Drop pairs whose chosen and rejected texts are near-identical (rapidfuzz `ratio`)."""

    model_config = _FORBID
    kind: Literal["near_duplicate_pair"] = "near_duplicate_pair"
    threshold: float = Field(90.0, ge=0.0, le=100.0, description="ratio (0–100) at or above which texts are duplicates")


class NearDuplicatePromptFilter(BaseModel):
    """Keep the pairs of only the first of near-identical prompts across the dataset (rapidfuzz `ratio`)."""

    model_config = _FORBID
    kind: Literal["near_duplicate_prompt"] = "near_duplicate_prompt"
    threshold: float = Field(95.0, ge=0.0, le=100.0, description="ratio (0–100) at or above which prompts are duplicates")


class RankConsistencyFilter(BaseModel):
    """Ranking consistency with the parent version (the consistency measure of CREAM, Wang et al. 2024): Kendall
    τ between this build's and the parent version's rankings of the same prompt's samples. Every pair of a prompt
    with a τ records C = (τ + 1)/2 (`consistency`); below `min_tau` the prompt's pairs are dropped, or kept with
    their weight multiplied by C. `cross_version` (its old name) is accepted and means the same filter.
    """

    model_config = _FORBID
    kind: Literal["rank_consistency", "cross_version"] = "rank_consistency"
    min_tau: float = Field(0.0, ge=-1.0, le=1.0, description="Pairs of prompts whose τ is below this are acted on")
    action: Literal["drop", "downweight"] = Field("drop", description="drop the pairs, or keep them with weight × C")

    @model_validator(mode="after")
    def _canonical_kind(self) -> RankConsistencyFilter:
        self.kind = "rank_consistency"  # configs written before the rename load as the same filter
        return self


CrossVersionFilter = RankConsistencyFilter  # the old name, for code that imports it


class ConfidenceFilter(BaseModel):
    """Keep a pair when the jury's probability that its chosen response is better (`confidence`, from the
    jury's `aggregation`: vote share, Dawid–Skene posterior or fitted model) is at least `min_confidence`."""

    model_config = _FORBID
    kind: Literal["confidence"] = "confidence"
    min_confidence: float = Field(0.8, ge=0.5, le=1.0, description="Lowest confidence kept (a tie, 0.5, never is)")


class VerifiedFilter(BaseModel):
    """Keep a pair of a prompt with a reference answer only when a verifier juror decided it — its chosen answer
    checked correct, the rejected one wrong; pairs of open prompts (no reference) pass."""

    model_config = _FORBID
    kind: Literal["verified"] = "verified"


FilterConfig = Annotated[
    PositionSwapFilter
    | DropTiesFilter
    | AgreementFilter
    | StrengthFilter
    | LengthBiasFilter
    | NearDuplicatePairFilter
    | NearDuplicatePromptFilter
    | RankConsistencyFilter
    | ConfidenceFilter
    | VerifiedFilter,
    Field(discriminator="kind"),
]
FILTER_KINDS = (
    "position_swap", "drop_ties", "agreement", "strength", "length_bias", "near_duplicate_pair",
    "near_duplicate_prompt", "rank_consistency", "cross_version", "confidence", "verified",
)
