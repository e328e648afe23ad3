"""Every judging protocol on the embedded model (SmolLM2-135M-Instruct): a small jury of the same model at
different temperatures and seeds, a pointwise rater and a one-round debate; then `eval-judge` on two gold pairs.
Small on purpose (2 prompts, ≤ 48 tokens per reply): the plumbing is real, the verdicts are a 135M model's.
"""

import json

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

ENGINE = "engines: {smol: {kind: llama_cpp, n_ctx: 2048, n_threads: 2}}\n"
JURY = """jury:
  - {engine: smol, temperature: 0.7, seed: 1, max_tokens: 48}
  - {engine: smol, temperature: 0.7, seed: 2, max_tokens: 48}
  - {kind: pointwise, engine: smol, max_tokens: 48}
  - {kind: debate, engine: smol, rounds: 1, both_orders: false, turn_max_tokens: 32, max_tokens: 48}
"""


def run(*args) -> dict:
    result = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_jury_of_every_protocol_on_the_embedded_model(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"prompt": "Name a colour."}\n{"prompt": "Say hello in Spanish."}\n')
    (tmp_path / "c.yaml").write_text(
        "name: tiny-jury\nprompts: {path: p.jsonl}\n" + ENGINE
        + "policies: [{engine: smol, n: 2, max_tokens: 16, temperature: 1.0, seed: 5}]\n" + JURY
        + "filters: [drop_ties, {kind: agreement, min_agreement: 0.5}, length_bias]\n"
    )
    catalog = tmp_path / "c.duckdb"
    s = run("build", tmp_path / "c.yaml", "--catalog", catalog)
    st = s["stats"]
    pairs = st["pairs"]
    assert pairs >= 1 and len(st["judges"]) == 4
    # 2 pairwise jurors × 2 orders + 1 debate per pair, plus one rating per sample of a prompt with a pair.
    assert sum(st["judgments"].values()) == pairs * 5 + 2 * pairs
    assert st["completion_tokens"] > 0 and st["agreement"]["raters"] >= 4
    con = duckdb.connect(str(catalog), read_only=True)
    (transcript,) = con.execute("SELECT transcript FROM judgments WHERE protocol = 'debate' LIMIT 1").fetchone()
    assert [t["agent"] for t in json.loads(transcript)][:2] == ["Critic", "User"]
    con.close()
    again = run("build", tmp_path / "c.yaml", "--catalog", catalog)
    assert again["stats"]["engine_calls"] == 0 and again["content_hash"] == s["content_hash"]


def test_eval_judge_on_the_embedded_model(tmp_path):
    gold = [
        {"prompt": "What is 2 + 2?", "response_a": "4", "response_b": "2 + 2 = 5.", "label": "A>B", "source": "math"},
        {"prompt": "Name a fruit.", "response_a": "A car.", "response_b": "An apple.", "label": "B>A", "source": "chat"},
    ]
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gold))
    (tmp_path / "e.yaml").write_text(ENGINE + "jury:\n  - {engine: smol, max_tokens: 48}\n"
                                     "  - {kind: pointwise, engine: smol, max_tokens: 48}\n")
    report = run("eval-judge", tmp_path / "e.yaml", "--gold", tmp_path / "gold.jsonl", "--catalog", tmp_path / "c.duckdb")
    assert report["items"] == 2 and [g["group"] for g in report["groups"]] == ["juror 1", "juror 2", "jury"]
    for g in report["groups"]:
        assert 0.0 <= g["accuracy"] <= 1.0 and g["parse_error_rate"] is not None
        assert set(g["by_source"]) == {"chat", "math"} and g["filters"][0]["filter"] == "(none)"
