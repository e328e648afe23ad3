"""Incremental builds: sample and judge only prompts the dataset has not seen; carry the previous rows.

`append` (the default of an incremental build) makes the new version = previous version's rows + new rows, with
the previous version as parent; `new_only` keeps only the new rows. Scheduled builds (prefect.yaml) use this so
a nightly run pays only for prompts added since the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from ..schemas.preference import Prompt
from .catalog import Catalog
from .prompt_stream import PromptSequence
from .versions import get_version, list_versions, seen_prompt_ids, version_rows

IncrementalMode = Literal["off", "append", "new_only"]


@dataclass(frozen=True)
class IncrementalPlan:
    """The build staged `carried_rows` first: a new row equal to a carried one stays one row, in its carried
    place (storage/staging.py keeps each row id's first place)."""

    prompts: Sequence[Prompt]  # the prompts to sample and judge now (a file's: read chunk by chunk)
    carried_rows: list[str]  # rows taken over from the previous version
    skipped_prompts: int

    def stats(self, mode: IncrementalMode) -> dict:
        return {"mode": mode, "prompts_seen_before": self.skipped_prompts, "rows_carried": len(self.carried_rows)}


def plan_incremental(catalog: Catalog, name: str, mode: IncrementalMode, prompts: Sequence[Prompt]) -> IncrementalPlan:
    if mode == "off" or not list_versions(catalog, name):
        return IncrementalPlan(prompts, [], 0)
    seen = seen_prompt_ids(catalog, name)
    fresh = prompts.without(seen) if isinstance(prompts, PromptSequence) else [p for p in prompts if p.id not in seen]
    carried = version_rows(catalog, get_version(catalog, name)) if mode == "append" else []
    return IncrementalPlan(fresh, carried, len(prompts) - len(fresh))
