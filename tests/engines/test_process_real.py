"""Process labels on the embedded model: 3 GSM8K problems, small budgets; the plumbing is real."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_omegaprm_on_gsm8k_with_the_embedded_model(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"name: gsm8k-tiny\nproblems: {{path: '{EXAMPLES / 'gsm8k_sample.jsonl'}', answer_format: gsm8k, limit: 3}}\n"
        "engines: {smol: {kind: llama_cpp, n_ctx: 1024, n_threads: 2}}\n"
        "policy: {engine: smol, temperature: 0.8, max_tokens: 64}\n"
        "method: omegaprm\nomegaprm: {k: 2, max_estimates: 3}\n"
    )
    runner = CliRunner()
    catalog = str(tmp_path / "c.duckdb")
    result = runner.invoke(app, ["label-steps", str(config), "--catalog", catalog, "--json"])
    assert result.exit_code == 0, result.stderr
    s = json.loads(result.stdout)["stats"]
    assert s["problems"] == 3 and sum(s["solutions"].values()) >= 6  # 2 screening rollouts per problem at least
    assert s["estimates"] <= 3 * 3  # the budget holds per problem
    assert s["completion_tokens"] > 0
    out = runner.invoke(app, ["export", "gsm8k-tiny", "-f", "trl-stepwise", "-o", str(tmp_path / "out"),
                              "--catalog", catalog])
    assert out.exit_code == 0, out.stderr
    table = pq.read_table(tmp_path / "out" / "gsm8k-tiny" / "v1" / "trl-stepwise" / "train.parquet")
    assert table.num_rows == json.loads(result.stdout)["rows"]
    for row in table.to_pylist():
        assert len(row["completions"]) == len(row["labels"]) == len(row["mc_values"])
