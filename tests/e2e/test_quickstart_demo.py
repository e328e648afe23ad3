"""Issue 14 item 2 on the real model: the quickstart config (SmolLM2-135M via llama.cpp as policy and judge, plus
the verifier juror) keeps pairs, and every kept pair of a verifiable prompt has a correct chosen answer and a
wrong rejected one. Short: three of the quickstart's arithmetic prompts and one open prompt."""

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.tasks.verify import AnswerChecker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]

# With the demo's seeds, 17 × 3 and 25 + 25 get one right and one wrong answer, 45 + 27 two wrong ones.
SUBSET = ("What is 17 multiplied by 3?", "What is 25 + 25?", "What is 45 + 27?", "Write a haiku about autumn leaves.")


def _question(row: dict) -> str:
    prompt = row["prompt"]
    return prompt if isinstance(prompt, str) else prompt[-1]["content"]


def test_the_quickstart_keeps_pairs_and_every_kept_verifiable_pair_is_right(tmp_path):
    pytest.importorskip("llama_cpp")
    rows = [json.loads(line) for line in (EXAMPLES / "quickstart_prompts.jsonl").read_text().splitlines()]
    subset = [r for r in rows if _question(r) in SUBSET]
    assert len(subset) == len(SUBSET)
    (tmp_path / "quickstart_prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in subset))
    shutil.copy(EXAMPLES / "quickstart.yaml", tmp_path)
    catalog = tmp_path / "c.duckdb"
    result = CliRunner().invoke(app, ["build", str(tmp_path / "quickstart.yaml"), "--catalog", str(catalog), "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    built = json.loads(result.stdout)
    assert built["rows"] >= 1

    with duckdb.connect(str(catalog), read_only=True) as con:
        kept = con.execute(
            "SELECT pr.reference, c.text, r.text FROM dataset_rows d JOIN pairs p ON p.id = d.row_id "
            "JOIN samples c ON c.id = p.chosen_id JOIN samples r ON r.id = p.rejected_id "
            "JOIN prompts pr ON pr.id = p.prompt_id WHERE d.name = 'quickstart'").fetchall()
    verifiable = [(ref, chosen, rejected) for ref, chosen, rejected in kept if ref is not None]
    assert verifiable, kept
    with AnswerChecker() as checker:  # checked again, apart from the build
        for ref, chosen, rejected in verifiable:
            assert checker.check(chosen, ref).status == "correct", (ref, chosen)
            assert checker.check(rejected, ref).status in ("incorrect", "unparseable"), (ref, rejected)
    v = built["stats"]["verifier"]
    assert v["kept"] == v["kept_chosen_correct"] == len(verifiable)
