"""runtime/build.py and storage/staging.py: a build stages its records, the version appears only at the commit,
with the same content hash as a list of its rows; a failed or killed build leaves nothing a user can see."""

from __future__ import annotations

import json

import duckdb
import pytest

from prefsynth.runtime.build import BuildContext, summary
from prefsynth.runtime.budget import TooManyErrors
from prefsynth.schemas.preference import FilterDecision, Prompt
from prefsynth.storage.catalog import Catalog
from prefsynth.storage.staging import PREFIX, Staging
from prefsynth.storage.versions import content_hash, list_versions, version_rows

pytestmark = pytest.mark.usefixtures("prefect_harness")


class Cfg:
    """The few config fields a BuildContext reads."""

    name = "staged"
    engines: dict = {}
    batch_size = 4

    def model_dump(self, mode="json"):
        return {"name": self.name}


FIGURES = {"prompts": 3, "samples": {"ok": 3}, "judgments": {}, "reasked": 0, "pairs": 0,
           "funnel": {"pairs_in": 0, "steps": [], "pairs_out": 0}}


def tables(path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def prompts(n: int) -> list[Prompt]:
    return [Prompt.of(f"question {i}") for i in range(n)]


def test_commit_writes_the_version_from_staged_rows_with_the_list_hash(tmp_path):
    ps = prompts(5)
    ids = [ps[3].id, ps[1].id, ps[3].id, ps[0].id]  # unsorted, one repeated: one row, at its first place
    with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as build:
        build.stage("prompts", ps[:3])
        build.stage("prompts", ps[2:])  # overlapping chunks: one row per content id
        build.add_rows(ids[:2])
        build.add_rows(ids[2:])
        build.add_decisions([FilterDecision(pair_id="p", filter="drop_ties", keep=False, reason="tie")])
        assert build.catalog.query("SELECT count(*) FROM prompts") == [(0,)]  # staged, not visible
        version = build.commit(FIGURES)
    unique = list(dict.fromkeys(ids))
    assert version.content_hash == content_hash(unique) and version.row_count == 3
    assert summary(version)["content_hash"] == version.content_hash
    counts = tables(tmp_path / "c.duckdb")
    assert counts["prompts"] == 5 and counts["filter_decisions"] == 1
    assert not [t for t in counts if t.startswith(PREFIX)]  # staging dropped with the commit
    with Catalog(tmp_path / "c.duckdb") as catalog:
        assert version_rows(catalog, version) == unique
        stored = list_versions(catalog, "staged")[0]
    assert stored.stats["stats_version"] == 1 and stored.stats["wall_time_s"] >= 0
    assert stored.stats["engine_calls"] == 0 and stored.stats["prompts"] == 3


def test_a_failed_build_leaves_no_version_no_rows_and_no_staging(tmp_path):
    with pytest.raises(RuntimeError):
        with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as build:
            build.stage("prompts", prompts(4))
            build.add_rows([p.id for p in prompts(4)])
            raise RuntimeError("a stage failed")
    counts = tables(tmp_path / "c.duckdb")
    assert counts["prompts"] == counts["dataset_versions"] == counts["dataset_rows"] == 0
    assert not [t for t in counts if t.startswith(PREFIX)]


def test_too_many_errors_writes_nothing(tmp_path):
    class Strict(Cfg):
        max_error_rate = 0.5

    with pytest.raises(TooManyErrors):
        with BuildContext(Strict(), str(tmp_path / "c.duckdb"), "preference") as build:
            build.stage("prompts", prompts(2))
            build.runner.stats.engine_calls, build.runner.stats.errors = 10, 10
            build.commit(FIGURES)
    assert tables(tmp_path / "c.duckdb")["dataset_versions"] == 0


def test_the_next_build_drops_a_killed_builds_staging(tmp_path):
    path = tmp_path / "c.duckdb"
    with Catalog(path) as catalog:  # a build that died: its staging tables stay, it is no longer running
        left = Staging(catalog)
        left.add_records("prompts", prompts(3))
        left.add_row_ids(["x"])
        left.close()
    assert [t for t in tables(path) if t.startswith(PREFIX)]
    with BuildContext(Cfg(), str(path), "preference") as build:
        build.add_rows(["y"])
        version = build.commit(FIGURES)
    counts = tables(path)
    assert not [t for t in counts if t.startswith(PREFIX)] and counts["prompts"] == 0
    assert version.content_hash == content_hash(["y"])


def test_stats_reject_an_undeclared_key(tmp_path):
    """The stored stats are the kind's typed record: a misspelt figure fails before anything is written."""
    with pytest.raises(ValueError):
        with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as build:
            build.commit({**FIGURES, "promts": 3})
    assert tables(tmp_path / "c.duckdb")["dataset_versions"] == 0


def test_stored_stats_are_json(tmp_path):
    with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as build:
        build.commit(FIGURES)
    with duckdb.connect(str(tmp_path / "c.duckdb"), read_only=True) as con:
        assert json.loads(con.execute("SELECT stats FROM dataset_versions").fetchone()[0])["pairs"] == 0


def test_a_commit_that_fails_in_its_transaction_leaves_no_staging(tmp_path, monkeypatch):
    """The version's transaction rolls back (here: a failure at its last moment, as a write conflict with another
    build at COMMIT would): no version, and the staging tables the rollback brought back are dropped with the
    build, not left in the file (a whole build's records) for the next build to find."""
    def fail(name: str) -> None:
        raise RuntimeError("the transaction failed")

    monkeypatch.setattr("prefsynth.runtime.build.pause_point", fail)
    with pytest.raises(RuntimeError, match="transaction failed"):
        with BuildContext(Cfg(), str(tmp_path / "c.duckdb"), "preference") as build:
            build.stage("prompts", prompts(3))
            build.add_rows([p.id for p in prompts(3)])
            build.commit(FIGURES)
    counts = tables(tmp_path / "c.duckdb")
    assert counts["dataset_versions"] == counts["dataset_rows"] == 0
    assert not [t for t in counts if t.startswith(PREFIX)]
