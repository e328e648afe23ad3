"""Issue 14 item 2, end to end on a scripted engine: a build whose jury is a position-biased LLM judge and a
verifier keeps the verifiable pairs the verifier decided — chosen correct, rejected wrong — and drops the rest
with their reasons; the summary measures the judge against the verifier."""

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from prefsynth.cli.main import app
from prefsynth.schemas.engine import DryRunEngineConfig
from prefsynth.tasks.verify import AnswerChecker
from tests.fakes import ScriptedEngine, policy_then_judge

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Three responses per prompt (index 0, 1, 2); the open prompt has no reference.
RESPONSES = {
    "What is 2 + 3?": ["2 + 3 = 5. The answer is 5.", "Adding them gives 6, so the answer is 6.",
                       "Numbers can be added in many ways."],  # correct, wrong, no answer (wrong)
    "What is 4 + 4?": ["The answer is 8.", "Four and four make eight: \\boxed{8}", "I believe the answer is 9."],
    "Name a colour.": ["Blue.", "Red, like a ripe tomato.", "Green is the colour of grass."],
}
CONFIG = """name: checked
prompts:
  path: prompts.jsonl
  reference_field: answer
engines:
  fake: {kind: dry_run, model: scripted}
policies:
  - {engine: fake, n: 3, max_tokens: 64}
jury:
  - engine: fake
  - kind: verifier
    weight: 2
filters: [verified, position_swap, drop_ties]
"""


def policy(req, i: int) -> str:
    return RESPONSES[req.messages[-1].content][i]


def first_is_better(req) -> str:
    return "Response A reads better.\nVerdict: [[A>B]]"  # position bias: whatever is shown first


def test_kept_verifiable_pairs_have_a_correct_chosen_and_a_wrong_rejected(tmp_path: Path, engines):
    rows = [{"prompt": "What is 2 + 3?", "answer": "5"}, {"prompt": "What is 4 + 4?", "answer": "8"},
            {"prompt": "Name a colour."}]
    (tmp_path / "prompts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "checked.yaml").write_text(CONFIG)
    engines.serve(DryRunEngineConfig(model="scripted"), ScriptedEngine(policy_then_judge(policy, first_is_better)))
    catalog = tmp_path / "c.duckdb"
    result = CliRunner().invoke(app, ["build", str(tmp_path / "checked.yaml"), "--catalog", str(catalog), "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    st = json.loads(result.stdout)["stats"]

    gold = {r["prompt"]: r.get("answer") for r in rows}
    with duckdb.connect(str(catalog), read_only=True) as con:
        kept = con.execute(
            "SELECT pr.text, c.text, r.text FROM dataset_rows d JOIN pairs p ON p.id = d.row_id "
            "JOIN samples c ON c.id = p.chosen_id JOIN samples r ON r.id = p.rejected_id "
            "JOIN prompts pr ON pr.id = p.prompt_id WHERE d.name = 'checked'").fetchall()
    # 2 + 3: (0, 1) and (0, 2) decided, (1, 2) neither correct; 4 + 4: (0, 2) and (1, 2) decided, (0, 1) both.
    assert len(kept) == 4 and all(gold[prompt] is not None for prompt, _, _ in kept)
    with AnswerChecker(use_math_verify=False) as checker:  # checked again, independently of the build
        for prompt, chosen, rejected in kept:
            assert checker.check(chosen, gold[prompt]).status == "correct"
            assert checker.check(rejected, gold[prompt]).status in ("incorrect", "unparseable")

    steps = {s["filter"]: s for s in st["funnel"]["steps"]}
    assert steps["verified"]["reasons"] == {"both answers correct": 1, "neither answer correct": 1}
    assert steps["position_swap"]["reasons"] == {"verdict flips when the order is swapped": 3}  # the open prompt
    v = st["verifier"]
    assert {k: v[k] for k in ("checked", "decided", "both_correct", "neither_correct", "unknown", "kept",
                              "kept_chosen_correct")} == {"checked": 6, "decided": 4, "both_correct": 1,
                                                          "neither_correct": 1, "unknown": 0, "kept": 4,
                                                          "kept_chosen_correct": 4}
    [(judge, llm)] = v["judges"].items()
    assert "pairwise" in judge
    assert (llm["correct_first"]["right_rate"], llm["correct_second"]["right_rate"]) == (1.0, 0.0)

    shown = CliRunner().invoke(app, ["show", "checked", "--catalog", str(catalog)])
    text = " ".join(shown.stdout.replace("│", " ").split())  # the table's cells wrap
    assert "6 pairs checked: 4 with one answer correct (4 kept, chosen correct in 4)" in text
    assert "right 4/4 with the correct answer shown first, 0/4 shown second (position bias +1.00)" in text

    code = CliRunner().invoke(app, ["report", "checked", "--out", str(tmp_path / "report"), "--catalog", str(catalog),
                                    "--json"])
    assert code.exit_code == 0, code.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["verifier"]["decided"] == 4
    headline = dict(summary["headline"])
    assert headline["verifier"].startswith("6 pairs checked: 4 with one answer correct")
    assert "position bias +1.00" in headline["vs verifier"]

    exported = CliRunner().invoke(app, ["export", "checked", "--format", "hf", "--out", str(tmp_path / "hf"),
                                        "--catalog", str(catalog)])
    assert exported.exit_code == 0, exported.stderr
    card = (tmp_path / "hf" / "checked" / "v1" / "hf" / "README.md").read_text()
    assert "Iterative Reasoning Preference Optimization" in card  # the card cites what made the pairs
