"""Incremental builds: only unseen prompts are sampled and judged; previous rows are carried (or not)."""

import json

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = pytest.mark.usefixtures("prefect_harness")

CONFIG = """name: inc
prompts: {{path: p.jsonl}}
engines: {{fake: {{kind: dry_run}}}}
policies: [{{engine: fake, n: 3, max_tokens: 24}}]
judge: {{engine: fake}}
filters: [drop_ties]
incremental: {mode}
"""


def build(folder, mode):
    (folder / "c.yaml").write_text(CONFIG.format(mode=mode))
    result = CliRunner().invoke(app, ["build", str(folder / "c.yaml"), "--catalog", str(folder / "c.duckdb"), "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def write_prompts(folder, n):
    (folder / "p.jsonl").write_text("".join(json.dumps({"prompt": f"Question number {i}?"}) + "\n" for i in range(n)))


def rows_of(folder, version):
    con = duckdb.connect(str(folder / "c.duckdb"), read_only=True)
    try:
        return [r[0] for r in con.execute(
            "SELECT row_id FROM dataset_rows WHERE name = 'inc' AND version = ? ORDER BY ord", [version]).fetchall()]
    finally:
        con.close()


def test_append_samples_only_new_prompts_and_carries_previous_rows(tmp_path):
    write_prompts(tmp_path, 4)
    first = build(tmp_path, "append")
    assert first["stats"]["prompts"] == 4 and "incremental" in first["stats"]
    write_prompts(tmp_path, 6)
    second = build(tmp_path, "append")
    inc = second["stats"]["incremental"]
    assert inc == {"mode": "append", "prompts_seen_before": 4, "rows_carried": first["rows"]}
    assert second["stats"]["prompts"] == 2
    assert second["stats"]["cache_hits"] == 0  # nothing of the first four prompts was asked again
    assert second["parent_version"] == 1
    v1, v2 = rows_of(tmp_path, 1), rows_of(tmp_path, 2)
    assert v2[: len(v1)] == v1 and len(v2) == len(v1) + (second["rows"] - first["rows"])
    assert second["rows"] > first["rows"]


def test_new_only_keeps_just_the_new_rows(tmp_path):
    write_prompts(tmp_path, 3)
    first = build(tmp_path, "new_only")
    write_prompts(tmp_path, 5)
    second = build(tmp_path, "new_only")
    assert second["stats"]["incremental"]["rows_carried"] == 0
    assert not set(rows_of(tmp_path, 1)) & set(rows_of(tmp_path, 2))
    third = build(tmp_path, "new_only")  # nothing new: an empty version, no engine call
    assert third["rows"] == 0 and third["stats"]["engine_calls"] == 0 and third["stats"]["prompts"] == 0
    assert first["rows"] > 0
