"""Self-rationalization on the embedded model: a handful of items, real sampled judgments, exports."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_rationalize_with_the_embedded_model(tmp_path):
    config = tmp_path / "r.yaml"
    config.write_text(
        f"name: real-rationales\nitems: {{path: '{EXAMPLES / 'judge_items.jsonl'}', limit: 3}}\n"
        "engines: {smol: {kind: llama_cpp, n_ctx: 1024, n_threads: 2}}\n"
        "judge: {engine: smol, temperature: 1.0, max_tokens: 40}\nk: 2\n"
    )
    runner = CliRunner()
    catalog = str(tmp_path / "c.duckdb")
    result = runner.invoke(app, ["rationalize", str(config), "--catalog", catalog, "--json"])
    assert result.exit_code == 0, result.stderr
    st = json.loads(result.stdout)["stats"]
    assert st["items"] == 3 and sum(st["judgments"].values()) >= 3
    assert st["references"].get("gold", 0) == 2 and st["references"].get("verifier", 0) == 1
    for fmt in ("trl-preference", "trl-sft"):
        out = runner.invoke(app, ["export", "real-rationales", "-f", fmt, "-o", str(tmp_path / fmt), "--catalog", catalog])
        assert out.exit_code == 0, out.stderr
        assert (tmp_path / fmt / "real-rationales" / "v1" / fmt / "train.parquet").exists()
