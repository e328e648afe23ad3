"""Dataset versions: immutable, content-hashed builds with their config and stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

DatasetKind = Literal["preference", "stepwise", "rationale"]


class DatasetVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    version: int
    kind: DatasetKind
    config: dict[str, Any]
    config_hash: str
    code_version: str
    parent_version: int | None
    row_count: int
    content_hash: str
    stats: dict[str, Any]
    created_at: datetime
    flow_run_id: str | None = None
