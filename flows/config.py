"""One validated config model per flow, loaded from YAML; errors name the file, line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..schemas.engine import EngineConfig
from ..schemas.stages import DedupeConfig, DropTiesFilter, FilterConfig, JudgeConfig, PolicyConfig, PositionSwapFilter

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


class PreferenceBuildConfig(BaseModel):
    """`prefsynth build`: prompts → samples → pairwise judgments (both orders) → pairs → filters → version."""

    model_config = _FORBID
    name: str = Field(..., pattern=DATASET_NAME, description="Dataset name; each build adds a version")
    catalog: str | None = Field(None, description="DuckDB catalog file (default ./prefsynth.duckdb; --catalog wins)")
    prompts: PromptsConfig
    engines: dict[str, EngineConfig] = Field(..., min_length=1, description="Named engines used by policies and judge")
    policies: list[PolicyConfig] = Field(..., min_length=1, description="Policy models to sample from")
    judge: JudgeConfig
    dedupe: DedupeConfig = Field(default_factory=DedupeConfig)
    filters: list[FilterConfig] = Field(
        default_factory=lambda: [PositionSwapFilter(), DropTiesFilter()],
        description="Pair filters in the order they apply; a bare name is accepted (e.g. `- drop_ties`)",
    )
    batch_size: int = Field(32, ge=1, le=100_000, description="Requests per engine task")

    @field_validator("filters", mode="before")
    @classmethod
    def _bare_filter_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"kind": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _engines_exist(self) -> PreferenceBuildConfig:
        users = [(f"policies.{i}.engine", p.engine) for i, p in enumerate(self.policies)]
        users.append(("judge.engine", self.judge.engine))
        for where, name in users:
            if name not in self.engines:
                raise ValueError(f"{where}: no engine named {name!r} (engines: {', '.join(self.engines)})")
        return self


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
    if isinstance(config, PreferenceBuildConfig):
        config.prompts.path = str((base / config.prompts.path).resolve())
        for engine in config.engines.values():
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


_UNION_TAGS = {"llama_cpp", "openai", "dry_run", "position_swap", "drop_ties"}


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
