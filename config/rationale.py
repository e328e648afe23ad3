"""The config model of `prefsynth rationalize` (self-rationalization data for training the judge itself)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ..schemas.judges import JudgeConfig
from .base import BuildConfig, Section
from .load import load_config


class ItemsConfig(Section):
    """Comparisons to judge: JSONL/CSV/Parquet with prompt, response_a, response_b, optional label
    (A>B | B>A, the `eval-judge` gold format) and optional gold_answer (math items: verified outcomes)."""

    path: str = Field(..., description="Items file (relative paths: from the config file)")
    format: Literal["auto", "jsonl", "csv", "parquet"] = Field("auto", description="File format; auto = by suffix")
    limit: int | None = Field(None, ge=1, description="Use only the first N items")


class RationalizeConfig(BuildConfig):
    """`prefsynth rationalize`: items → K sampled judgments each → right/wrong by reference → rationale pairs
    (+ an SFT set of agreed judgments) → a `rationale` version. Point `judge.engine` at the judge trained on the
    previous iteration's data to iterate; each version records its judge and parent.

    The same limits as every build (`BuildConfig`: `budget`, `max_error_rate`, `batches_in_flight`): reaching a
    budget, or more failed calls than `max_error_rate`, stops the run without a version."""

    items: ItemsConfig
    judge: JudgeConfig = Field(..., description="The judge being trained; sample it at temperature > 0")
    k: int = Field(4, ge=2, le=64, description="Judgments sampled per item (one request with n=k)")
    reference: Literal["auto", "gold", "verifier", "consensus"] = Field(
        "auto", description="What decides a judgment is right: auto = gold label if present, else the verifier "
        "if the item has a gold_answer and it tells the answers apart (one right, one wrong), else the consensus "
        "of the k judgments; verifier = the verifier only (no reference when it cannot decide)",
    )
    min_consensus_margin: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Consensus needs its majority side to lead the runner-up by this fraction of parsed judgments",
    )
    order: Literal["balanced", "as_given"] = Field(
        "balanced", description="balanced = half the items of each gold/verifier side (and half the rest) are shown "
        "with response_b first, recorded per item, so a judge's position bias is not agreement with the reference; "
        "as_given = the file's order for all",
    )
    max_pairs_per_item: int = Field(2, ge=1, le=64, description="Rationale pairs kept per item (most informative)")
    answer_timeout_s: float = Field(5.0, gt=0, description="Hard timeout of one math-verify check (verifier)")

    def engine_refs(self) -> Iterator[tuple[str, str]]:
        yield "judge.engine", self.judge.engine

    @model_validator(mode="after")
    def _judge_samples(self) -> RationalizeConfig:
        if self.judge.temperature <= 0:
            raise ValueError("judge.temperature: must be > 0 — k greedy judgments would all be the same")
        return self


def load_rationale_config(path: str | Path) -> RationalizeConfig:
    return load_config(path, RationalizeConfig)
