"""One validated config model per flow, loaded from YAML; errors name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..schemas.aggregation import AGGREGATION_KINDS, AggregationConfig, MajorityAggregation
from ..schemas.engine import EngineConfig
from ..schemas.judges import JUROR_KINDS, JurorConfig, PairingConfig, with_default_kind
from ..schemas.stages import FILTER_KINDS, DedupeConfig, DropTiesFilter, FilterConfig, PolicySpec, PositionSwapFilter
from ..runtime.budget import LimitFields

_FORBID = ConfigDict(extra="forbid")
DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class ConfigError(ValueError):
    """A config that does not validate; the message lists FILE:LINE: field 'a.b': problem, one per line."""


class PromptsConfig(BaseModel):
    """Where prompts come from. `field` holds a string or a list of chat messages ({role, content})."""

    model_config = _FORBID
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


class JuryFields(BaseModel):
    """Engines, the judge or jury, and the filters: shared by the build and the judge evaluation."""

    model_config = _FORBID
    catalog: str | None = Field(None, description="DuckDB catalog file (default ./prefsynth.duckdb; --catalog wins)")
    engines: dict[str, EngineConfig] = Field(default_factory=dict, description="Named engines used by policies and judges")
    judge: JurorConfig | None = Field(None, description="One judge (any protocol; `kind` defaults to pairwise)")
    jury: list[JurorConfig] | None = Field(None, min_length=1, description="Several judges whose votes are aggregated")
    filters: list[FilterConfig] = Field(
        default_factory=lambda: [PositionSwapFilter(), DropTiesFilter()],
        description="Pair filters in the order they apply; a bare name is accepted (e.g. `- drop_ties`)",
    )
    batch_size: int = Field(32, ge=1, le=100_000, description="Requests per engine task")
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

    @model_validator(mode="after")
    def _jurors_valid(self) -> JuryFields:
        if (self.judge is None) == (self.jury is None):
            raise ValueError("give either `judge` (one judge) or `jury` (a list of judges)")
        where = "judge" if self.judge is not None else "jury"
        seen: dict[str, str] = {}
        for i, juror in enumerate(self.jurors):
            at = where if self.judge is not None else f"jury.{i}"
            engine = getattr(juror, "engine", None)
            if engine is not None and engine not in self.engines:
                raise ValueError(f"{at}.engine: no engine named {engine!r} (engines: {', '.join(self.engines) or 'none'})")
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


class PreferenceBuildConfig(JuryFields, LimitFields):
    """`prefsynth build`: prompts → samples → judgments (judge or jury) → pairs → filters → version."""

    name: str = Field(..., pattern=DATASET_NAME, description="Dataset name; each build adds a version")
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

    @model_validator(mode="after")
    def _engines_exist(self) -> PreferenceBuildConfig:
        for i, p in enumerate(self.policies):
            if p.kind == "sample" and p.engine not in self.engines:
                raise ValueError(f"policies.{i}.engine: no engine named {p.engine!r} (engines: {', '.join(self.engines) or 'none'})")
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


def load_config(path: str | Path, model: type[BaseModel] = PreferenceBuildConfig) -> BaseModel:
    """Read and validate a YAML config; relative input paths are resolved against the config's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, exc)) from None
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: BaseModel, base: Path) -> BaseModel:
    """Input files (`prompts.path`, `problems.path`, `items.path`, …) and engines' `model_path` are relative to
    the config file, whichever flow the config is for."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, BaseModel) and isinstance(getattr(value, "path", None), str):
            value.path = str((base / value.path).resolve())
    for engine in (getattr(config, "engines", None) or {}).values():
        if getattr(engine, "model_path", None):
            engine.model_path = str((base / engine.model_path).resolve())
    return config


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(text, loc)
        where = f"{path}:{line}" if line else str(path)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{where}: field '{field}': {msg}")
    return "\n".join(lines)


_UNION_TAGS = {"llama_cpp", "openai", "dry_run", "sample", *JUROR_KINDS, *FILTER_KINDS, *AGGREGATION_KINDS}


def _line_of(text: str, loc: list) -> int | None:
    """1-based line of the YAML node at `loc` (the deepest one that exists)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    best = node.start_mark.line + 1 if node else None
    for part in loc:
        node = _child(node, part)
        if node is None:
            break
        best = node.start_mark.line + 1
    return best


def _child(node, part):
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
