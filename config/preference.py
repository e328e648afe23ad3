"""The config models of `prefsynth build` (`PreferenceBuildConfig`) and `prefsynth eval-judge`
(`JudgeEvalConfig`), which share the judge or jury and the filters (`JuryFields`). Loaded with
config/load.py:load_config; `eval-judge` reads either (`load_eval_config`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from ..schemas.aggregation import AggregationConfig, MajorityAggregation
from ..schemas.engine import EngineConfig
from ..schemas.judges import JurorConfig, PairingConfig, with_default_kind
from ..schemas.stages import DedupeConfig, DropTiesFilter, FilterConfig, PolicySpec, PositionSwapFilter
from .base import BuildConfig, FlowConfig, Section
from .load import load_config


class PromptsConfig(Section):
    """Where prompts come from. `field` holds a string or a list of chat messages ({role, content})."""

    path: str = Field(..., description="JSONL, CSV or Parquet file (relative paths: from the config file)")
    format: Literal["auto", "jsonl", "csv", "parquet"] = Field("auto", description="File format; auto = by suffix")
    field: str = Field("prompt", description="Column holding the prompt text or message list")
    limit: int | None = Field(None, ge=1, description="Use only the first N prompts")
    max_prompt_chars: int | None = Field(100_000, ge=1, description="Reject prompts longer than this")
    reference_field: str | None = Field(
        None, description="Column holding a reference answer (shown to pointwise judges; checked by a verifier juror)"
    )
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="A bad row stops the build (fail) or is left out, counted and listed in the summary (skip)"
    )


class JuryFields(FlowConfig):
    """The judge or jury, and the filters: shared by the build and the judge evaluation."""

    judge: JurorConfig | None = Field(None, description="One judge (any protocol; `kind` defaults to pairwise)")
    jury: list[JurorConfig] | None = Field(None, min_length=1, description="Several judges whose votes are aggregated")
    filters: list[FilterConfig] = Field(
        default_factory=lambda: [PositionSwapFilter(), DropTiesFilter()],
        description="Pair filters in the order they apply; a bare name is accepted (e.g. `- drop_ties`)",
    )
    aggregation: AggregationConfig = Field(
        default_factory=MajorityAggregation,
        description="How the jurors' votes become a label and a confidence: majority (default), dawid_skene, or "
        "fitted (written by `eval-judge --fit`); a bare name is accepted",
    )

    @field_validator("aggregation", mode="before")
    @classmethod
    def _bare_aggregation(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("judge", mode="before")
    @classmethod
    def _judge_kind(cls, value: Any) -> Any:
        return with_default_kind(value)

    @field_validator("jury", mode="before")
    @classmethod
    def _jury_kinds(cls, value: Any) -> Any:
        return [with_default_kind(v) for v in value] if isinstance(value, list) else value

    @field_validator("filters", mode="before")
    @classmethod
    def _bare_filter_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"kind": v} if isinstance(v, str) else v for v in value]
        return value

    @property
    def jurors(self) -> list:
        return list(self.jury) if self.jury else [self.judge]

    def _juror_paths(self) -> Iterator[tuple[str, Any]]:
        """(field path, juror): `judge`, or `jury.0`, `jury.1`, …"""
        if self.judge is not None:
            yield "judge", self.judge
        for i, juror in enumerate(self.jury or []):
            yield f"jury.{i}", juror

    def engine_refs(self) -> Iterator[tuple[str, str]]:
        for at, juror in self._juror_paths():
            if getattr(juror, "engine", None) is not None:  # imported judges and verifiers use no engine
                yield f"{at}.engine", juror.engine

    @model_validator(mode="after")
    def _jurors_valid(self) -> JuryFields:
        if (self.judge is None) == (self.jury is None):
            raise ValueError("give either `judge` (one judge) or `jury` (a list of judges)")
        seen: dict[str, str] = {}
        for at, juror in self._juror_paths():
            key = juror_identity(juror, self.engines)
            if key in seen:
                raise ValueError(f"{at}: the same judge as {seen[key]} (change its seed or temperature)")
            seen[key] = at
        return self


def juror_identity(juror: Any, engines: dict[str, EngineConfig]) -> str:
    """Two jurors are the same judge when everything but the engine's key name, the weight and the abstention
    threshold is equal (those change how its votes count, not what it says)."""
    data = juror.model_dump(mode="json", exclude={"weight", "abstain_below"})
    engine = data.pop("engine", None)
    resolved = engines[engine].model_dump(mode="json") if engine in engines else engine
    return json.dumps([data, resolved], sort_keys=True)


class PreferenceBuildConfig(JuryFields, BuildConfig):
    """`prefsynth build`: prompts → samples → judgments (judge or jury) → pairs → filters → version."""

    prompts: PromptsConfig
    policies: list[PolicySpec] = Field(..., min_length=1, description="Policy models to sample from (or imported responses)")
    pairing: PairingConfig = Field(default_factory=PairingConfig)
    dedupe: DedupeConfig = Field(default_factory=DedupeConfig)
    incremental: Literal["off", "append", "new_only"] = Field(
        "off",
        description="Only sample and judge prompts the dataset has not seen; append = previous rows + new rows, "
        "new_only = the new rows alone",
    )

    @field_validator("policies", mode="before")
    @classmethod
    def _policy_kinds(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{**v, "kind": "sample"} if isinstance(v, dict) and "kind" not in v else v for v in value]
        return value

    def engine_refs(self) -> Iterator[tuple[str, str]]:
        yield from super().engine_refs()
        yield from ((f"policies.{i}.engine", p.engine) for i, p in enumerate(self.policies) if p.kind == "sample")

    @model_validator(mode="after")
    def _jurors_fit_the_build(self) -> PreferenceBuildConfig:
        if self.pairing.strategy != "all_pairs" and not any(j.kind == "pointwise" for j in self.jurors):
            raise ValueError(f"pairing.strategy {self.pairing.strategy!r} ranks samples by pointwise scores: "
                             "add a juror of kind pointwise")
        if any(j.kind == "verifier" for j in self.jurors) and not self.prompts.reference_field:
            raise ValueError("a juror of kind verifier checks answers against the prompts' reference answers: "
                             "set prompts.reference_field")
        return self

    def imported_response_judges(self) -> list[str]:
        """Imported judge names whose lines supply responses (policies of kind imported)."""
        names: list[str] = []
        own = [j.judge for j in self.jurors if j.kind == "imported"]
        for p in self.policies:
            if p.kind == "imported":
                names.extend(p.judges if p.judges is not None else own)
        return list(dict.fromkeys(names))


class JudgeEvalConfig(JuryFields):
    """`prefsynth eval-judge`: the judge or jury (and filters) to measure against gold labels."""


def load_eval_config(path: Path | str) -> JuryFields:
    """A judge-evaluation config, or a build config (recognised by its `policies`) evaluated as is."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        data = None  # load_config reports these with the file name
    model = PreferenceBuildConfig if isinstance(data, dict) and "policies" in data else JudgeEvalConfig
    return load_config(path, model)
