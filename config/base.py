"""What every flow's config has, written once: the catalog, the named engines, the batch size, unknown keys as
errors, and the check that every engine a config names exists. A flow that writes a dataset version also has
a `name` and the build limits (`BuildConfig`).

The catalog a run writes to is decided here, for the CLI and for Prefect deployments alike (`catalog_file`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..runtime.budget import LimitFields
from ..schemas.engine import EngineConfig

DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
DEFAULT_CATALOG = "prefsynth.duckdb"
CATALOG_ENV = "PREFSYNTH_CATALOG"


def resolve_catalog(explicit: str | Path | None = None, configured: str | None = None) -> Path:
    """The catalog file of a run: `explicit` (--catalog, a deployment's `catalog_path`), else the config's
    `catalog`, else $PREFSYNTH_CATALOG, else ./prefsynth.duckdb."""
    return Path(explicit or configured or os.environ.get(CATALOG_ENV) or DEFAULT_CATALOG)


class Section(BaseModel):
    """A config model or a part of one: a misspelt or unknown key is an error, not a silently ignored default."""

    model_config = ConfigDict(extra="forbid")


class FlowConfig(Section):
    """The fields and checks every flow config shares (the base of each flow's config model)."""

    catalog: str | None = Field(
        None, description=f"DuckDB catalog file (default ${CATALOG_ENV}, else ./{DEFAULT_CATALOG}; --catalog wins)"
    )
    engines: dict[str, EngineConfig] = Field(default_factory=dict, description="Named engines the config refers to")
    batch_size: int = Field(32, ge=1, le=100_000, description="Requests per engine task")

    def engine_refs(self) -> Iterator[tuple[str, str]]:
        """(field path, engine name) of every engine this config names; each flow's config lists its own."""
        return iter(())

    @model_validator(mode="after")
    def _engines_exist(self) -> FlowConfig:
        for at, engine in self.engine_refs():
            if engine not in self.engines:
                known = ", ".join(self.engines) or "none"
                raise ValueError(f"{at}: no engine named {engine!r} (engines: {known})")
        return self

    def catalog_file(self, explicit: str | Path | None = None) -> str:
        """The catalog this run writes to (see `resolve_catalog`)."""
        return str(resolve_catalog(explicit, self.catalog))


class BuildConfig(FlowConfig, LimitFields):
    """A flow that writes a dataset version: its name, and the limits of every build (budget, error rate,
    batches in flight) that stop it without a version."""

    name: str = Field(..., pattern=DATASET_NAME, description="Dataset name; each run adds a version")
