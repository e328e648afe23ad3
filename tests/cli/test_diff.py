"""`prefsynth diff` compares the typed build stats (schemas/stats.py `display_items`): the stats format version
is never a figure, whether both versions are current or one was stored before the format had a version."""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.builds import build_example, cli


@pytest.fixture
def two_versions(tmp_path):
    """dry-run@1 and dry-run@2 of examples/dry_run.yaml, both written with the current stats format."""
    first = build_example(tmp_path, "dry_run.yaml")
    second = build_example(tmp_path, "dry_run.yaml")
    assert (first["version"], second["version"]) == (1, 2) and first["stats"]["stats_version"] == 1
    return tmp_path / "c.duckdb"


def as_format_0(catalog, version: int) -> None:
    """Store `version`'s stats as a build before the format had a version wrote them: no stats_version."""
    con = duckdb.connect(str(catalog))
    (stored,) = con.execute("SELECT stats FROM dataset_versions WHERE version = ?", [version]).fetchone()
    old = {k: v for k, v in json.loads(stored).items() if k != "stats_version"}
    con.execute("UPDATE dataset_versions SET stats = ? WHERE version = ?", [json.dumps(old, sort_keys=True), version])
    con.close()


@pytest.mark.usefixtures("prefect_harness")
def test_diff_never_shows_the_stats_format_version(two_versions):
    moved = json.loads(cli("diff", "dry-run@1", "dry-run@2", "--catalog", str(two_versions), "--json"))
    assert "stats_version" not in moved["stats"]
    assert {"prompts", "pairs", "engine_calls", "wall_time_s"} <= set(moved["stats"])

    as_format_0(two_versions, 1)  # format 0 → 1: the version field differs, and still is no figure
    moved = json.loads(cli("diff", "dry-run@1", "dry-run@2", "--catalog", str(two_versions), "--json"))
    assert "stats_version" not in moved["stats"]
    assert moved["stats"]["prompts"] == {"from": moved["stats"]["prompts"]["to"], "to": moved["stats"]["prompts"]["to"]}
    table = cli("diff", "dry-run@1", "dry-run@2", "--catalog", str(two_versions))
    assert "stats_version" not in table and "wall_time_s" in table
