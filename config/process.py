"""The config model of `prefsynth label-steps` (on the flow config base, config/base.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..schemas.process import MathShepherdConfig, OmegaPRMConfig
from .base import BuildConfig, Section
from .load import load_config


class ProblemsConfig(Section):
    """Where problems come from: a question and a gold final answer per row."""

    path: str = Field(..., description="JSONL, CSV or Parquet file (relative paths: from the config file)")
    format: Literal["auto", "jsonl", "csv", "parquet"] = Field("auto", description="File format; auto = by suffix")
    question_field: str = Field("question", description="Column holding the question")
    answer_field: str = Field("answer", description="Column holding the gold answer")
    answer_format: Literal["plain", "gsm8k"] = Field(
        "plain", description="plain = the field is the answer; gsm8k = the answer follows the last '####'"
    )
    limit: int | None = Field(None, ge=1, description="Use only the first N problems")


class RolloutPolicyConfig(Section):
    """The policy that writes solutions and continues prefixes (raw text continuation)."""

    engine: str = Field(..., description="Name of an entry under `engines`")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature of solutions and rollouts")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass")
    max_tokens: int = Field(320, ge=8, description="Longest continuation in tokens")
    seed: int = Field(0, description="Base seed; each (problem, prefix) derives its own")


class ProcessLabelsConfig(BuildConfig):
    """`prefsynth label-steps`: problems → solutions → steps → OmegaPRM or Math-Shepherd → step labels → version."""

    problems: ProblemsConfig
    policy: RolloutPolicyConfig
    method: Literal["omegaprm", "math_shepherd"] = Field("omegaprm", description="Labelling method")
    omegaprm: OmegaPRMConfig = Field(default_factory=OmegaPRMConfig, description="OmegaPRM search settings")
    math_shepherd: MathShepherdConfig = Field(default_factory=MathShepherdConfig, description="Math-Shepherd settings")
    solutions_per_problem: int = Field(
        4, ge=1, le=256, description="Math-Shepherd: solutions sampled and labelled per problem"
    )
    answer_timeout_s: float = Field(5.0, gt=0, description="Hard timeout of one math-verify check")
    reuse_prefix_values: bool = Field(
        False,
        description="Use MC values other builds stored in the catalog instead of sampling those prefixes again "
        "(cheaper; OmegaPRM's search then depends on what the catalog already knows)",
    )

    def engine_refs(self) -> Iterator[tuple[str, str]]:
        yield "policy.engine", self.policy.engine


def load_process_config(path: str | Path) -> ProcessLabelsConfig:
    return load_config(path, ProcessLabelsConfig)
