"""One build, from opening the catalog to its committed version: the ending every flow used to copy.

    with BuildContext(config, catalog_path, kind="preference") as build:
        ...                                        # build.catalog, build.runner (call cache + RunLimits)
        build.stage("samples", samples)            # records, as they are made, in chunks
        build.add_rows(kept_ids)                   # the version's rows, in order
        build.add_decisions(decisions)             # filter decisions, pair-major
        return build.commit({"prompts": ..., ...}) # → DatasetVersion

Contract:
- Entering opens the `Catalog` at `catalog_path` (created and migrated if new), drops the staging tables a killed
  build left (storage/staging.py), starts the build's timer and makes the `CallRunner` over the catalog's call
  cache with the config's `batch_size`, `engines` and limits (`RunLimits.of(config)`: budget, `max_error_rate`,
  batches in flight; configs without them run unlimited). The runner holds the build's own engines
  (tasks/generate.py `EngineSet`); leaving closes those it built.
- `stage`/`stage_rows`/`add_rows`/`add_decisions` write to the build's staging tables at once (each call its
  own small transaction): memory does not grow with the build. Nothing staged is visible through versions,
  exports or reports until `commit`. `chunk_done()` after each chunk lets go of Prefect's per-result records.
- `commit(figures)` — once, at the end: the build stats are `figures` + the runner's call counts +
  `wall_time_s` (since entering), validated as the kind's typed record (schemas/stats.py) and stored as its JSON;
  then `runner.check_errors()` (a build whose calls failed beyond `max_error_rate` raises `TooManyErrors` and
  writes nothing); then the staged records are copied into their record tables (in chunks: content-addressed
  and seen only through a version) and ONE transaction writes the version (next number of `config.name`,
  parent = the latest, row count and content hash computed from the staged distinct row ids), its rows and
  its filter decisions. The test seam `pause_point("commit")` (prefsynth/hooks.py) sits inside that transaction,
  after every row is written and before COMMIT. After COMMIT the run's Prefect artifacts are published.
  Returns the `DatasetVersion`; `summary(version)` is the dict the CLI prints.
- Leaving without a commit (an exception, a stop) drops the staging tables: no version, no visible rows. A
  killed process leaves them; the next build on the catalog drops them.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from pydantic import BaseModel

from ..engines.cache import CallCache
from ..hooks import pause_point
from ..schemas.dataset import DatasetKind, DatasetVersion
from ..schemas.preference import FilterDecision
from ..schemas.stats import STATS_MODELS
from ..storage.catalog import Catalog
from ..storage.staging import Staging, drop_leftovers
from ..storage.versions import write_version
from .budget import RunLimits
from .calls import CallRunner


class BuildContext:
    """The catalog, call runner, timer, staging and commit of one build (see the module docstring)."""

    def __init__(self, config: Any, catalog_path: str, kind: DatasetKind):
        self.config, self.catalog_path, self.kind = config, catalog_path, kind
        self.catalog: Catalog | None = None
        self.runner: CallRunner | None = None
        self.staging: Staging | None = None
        self.version: DatasetVersion | None = None

    def __enter__(self) -> BuildContext:
        self.started = time.perf_counter()
        self.catalog = Catalog(self.catalog_path)
        try:
            drop_leftovers(self.catalog)
            self.staging = Staging(self.catalog)
            self.runner = CallRunner(CallCache(self.catalog), self.config.engines, self.config.batch_size,
                                     RunLimits.of(self.config))
        except BaseException:
            self.catalog.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.version is None:
                self.staging.drop()  # best effort: a failure here leaves them to the next build
        finally:
            self.runner.close()  # the engines this build made: nothing outlives it
            self.staging.close()
            self.catalog.close()

    # -- what the build makes ------------------------------------------------------------------------------
    def stage(self, table: str, records: Iterable[BaseModel]) -> None:
        """Records of a record table (`prompts`, `samples`, `judgments`, `pairs`, ...), written now."""
        self.staging.add_records(table, records)

    def stage_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Plain column dicts of a record table (e.g. `step_labels`), written now."""
        self.staging.add_rows(table, rows)

    def add_rows(self, row_ids: Iterable[str]) -> None:
        """The version's rows, in order (a repeated id is one row, at its first place)."""
        self.staging.add_row_ids(row_ids)

    def add_decisions(self, decisions: Iterable[FilterDecision]) -> None:
        """Filter decisions in order (pair-major: each pair's decisions in filter order)."""
        self.staging.add_decisions(decisions)

    def chunk_done(self) -> None:
        """A chunk's records are staged: drop Prefect's per-result bookkeeping of the flow's task runs.

        Prefect links every element of every task's return value to the task's state (`run_results`, for
        dependency tracking when a result is passed to another task — builds never do that): ~60 bytes per
        engine call, ~150 MB over 2.5 M calls, kept until the flow ends."""
        context = FlowRunContext.get()
        if context is not None:
            context.run_results.clear()

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.started, 3)

    # -- the end -----------------------------------------------------------------------------------------------
    def stats(self, figures: dict[str, Any]) -> dict[str, Any]:
        """The stored stats: the flow's figures, the call counts and the wall time, as the kind's typed record."""
        record = STATS_MODELS[self.kind].model_validate(
            {**figures, **self.runner.stats.as_dict(), "wall_time_s": self.elapsed()})
        return record.stored()

    def commit(self, figures: dict[str, Any]) -> DatasetVersion:
        """Check errors, write the version atomically, publish its artifacts; returns it (module docstring)."""
        stats = self.stats(figures)
        self.runner.check_errors()  # a build whose calls mostly failed writes no version
        self.staging.move_records()  # chunk by chunk: seen only through the version written next
        with self.catalog.transaction():
            version = write_version(self.catalog, self.staging, name=self.config.name, kind=self.kind,
                                    config=self.config.model_dump(mode="json"), stats=stats,
                                    flow_run_id=str(flow_run.id) if flow_run.id else None)
            pause_point("commit")  # crash tests kill the build here: everything written, nothing committed
        self.version = version
        _publish_artifacts(self.catalog, version)
        return version


def _publish_artifacts(catalog: Catalog, version: DatasetVersion) -> None:
    from ..reports.artifacts import publish_version_artifacts  # the run's summary as Prefect artifacts

    publish_version_artifacts(catalog, version)


def summary(version: DatasetVersion) -> dict:
    """What the CLI prints (and `--json` emits) for a committed version."""
    return {
        "name": version.name,
        "version": version.version,
        "parent_version": version.parent_version,
        "rows": version.row_count,
        "content_hash": version.content_hash,
        "stats": version.stats,
    }
