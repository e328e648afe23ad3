"""Issue 17 item 2: a jury fitted on gold labels (regularised logistic model over per-order juror features),
k-fold cross-validated, finds the known optimal rule of a simulated jury; `eval-judge --fit` writes a config a
build uses as is."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from prefsynth.schemas.aggregation import FittedAggregation
from prefsynth.schemas.imported import GoldRow, ImportedJudgmentRow, imported_sample
from prefsynth.tasks.judge.features import columns_for, swap, vector
from prefsynth.tasks.judge.fitted import accuracy, fit_jury, probability
from prefsynth.tasks.judge.jury import Jury, JurorSpec, votes_for
from tests.sim import JURY

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_jury import JURY_YAML, bayes_log_odds, simulate  # noqa: E402

JUDGES = ["strong", "rm1", "rm2", "rm3", "shy"]


def sim_readings(n: int, seed: int, jury: Jury = JURY):
    """The simulated jury's readings on each gold item (x = response_a), gold sides and the truth."""
    rows, gold, truth = simulate(n, seed)
    by_item: dict[str, list] = {}
    for r in rows:
        by_item.setdefault(r["prompt"], []).append(ImportedJudgmentRow.model_validate(r).records("sim")[3])
    readings = []
    for g in gold:
        row = GoldRow.model_validate(g)
        prompt = row.prompt_record("sim")
        a, b = imported_sample(prompt.id, row.response_a), imported_sample(prompt.id, row.response_b)
        readings.append(votes_for(a, b, by_item[g["prompt"]], jury))
    return readings, [g["label"] == "A>B" for g in gold], truth


def test_fitting_finds_the_known_optimal_rule_cross_validated():
    readings, gold, truth = sim_readings(800, seed=3)
    fit = fit_jury(readings, gold, JUDGES, folds=5)
    bayes = [bayes_log_odds(t) for t in truth]
    bayes_acc = accuracy([1 / (1 + np.exp(-z)) for z in bayes], gold)
    # Out-of-fold accuracy is close to the Bayes-optimal rule's, and the decisions are mostly the same ones.
    assert fit.cv_accuracy >= bayes_acc - 0.03, (fit.cv_accuracy, bayes_acc)
    same = np.mean([(p > 0.5) == (z > 0) for p, z in zip(fit.oof, bayes)])
    assert same >= 0.93
    # Every single juror is far worse (the double-order rule: a flip is not correct) and so is the majority.
    strong_alone = np.mean([t.strong_winner_a == t.a_better for t in truth])
    rm_alone = max(accuracy([0.5 + np.sign(r[k].margin or 0) / 4 for r in readings], gold) for k in (2, 3, 4))
    assert fit.cv_accuracy >= max(strong_alone, rm_alone) + 0.08
    # The strong judge adds the most; its consistent verdicts carry the weight, not its flipped ones.
    assert max(fit.added_value, key=fit.added_value.get) == "strong" and fit.added_value["strong"] > 0.1
    strong = fit.coefficients["strong"]
    assert strong["agree"] > 0 and strong["agree"] + strong["xy"] > fit.coefficients["rm1"].get("xy", 0) * 2


def test_reward_model_scores_without_a_declared_range_keep_their_magnitude():
    """A reward model without `score_min`/`score_max` votes only the sign of its score difference; the fitted
    jury also reads the difference itself (`score_diff`, in the model's own units), so it loses nothing."""
    no_range = Jury.of([JurorSpec("strong"), *(JurorSpec(f"rm{i}") for i in (1, 2, 3)), JurorSpec("shy")])
    readings, gold, truth = sim_readings(800, seed=3, jury=no_range)
    assert {v.margin for r in readings for v in r if v.judge == "rm1"} <= {-1.0, 1.0}  # the sign only
    fit = fit_jury(readings, gold, JUDGES, folds=5)
    bayes_acc = accuracy([1 / (1 + np.exp(-bayes_log_odds(t))) for t in truth], gold)
    assert fit.cv_accuracy >= bayes_acc - 0.03, (fit.cv_accuracy, bayes_acc)
    assert all(fit.coefficients[f"rm{i}"].get("score_diff", 0) > 0 for i in (1, 2, 3))


def test_the_model_is_symmetric_in_the_pair_order():
    readings, gold, _ = sim_readings(200, seed=5)
    fit = fit_jury(readings, gold, JUDGES, folds=4)
    model = FittedAggregation(kind="fitted", coefficients=fit.coefficients)
    columns = columns_for(JUDGES)
    for r in readings[:20]:
        mirrored = [replace(v, slot={"xy": "yx", "yx": "xy"}.get(v.slot, v.slot),
                            margin=None if v.margin is None else -v.margin, raw=None if v.raw is None else -v.raw)
                    for v in r]
        assert vector(mirrored, columns) == pytest.approx(swap(vector(r, columns), columns))
        assert probability(model, mirrored) == pytest.approx(1 - probability(model, r))
    # Mirror images in training: the vote in each order weighs the same (which side is "A" teaches nothing).
    for judge in ("strong", "rm1"):
        c = fit.coefficients.get(judge, {})
        assert c.get("xy", 0.0) == pytest.approx(c.get("yx", 0.0), abs=1e-3)


def test_too_few_gold_items_is_a_clear_error():
    readings, gold, _ = sim_readings(6, seed=1)
    with pytest.raises(ValueError, match="too few for 5-fold"):
        fit_jury(readings, gold, JUDGES, folds=5)


@pytest.mark.usefixtures("prefect_harness")
def test_eval_judge_fit_writes_a_config_a_build_uses_as_is(tmp_path):
    from typer.testing import CliRunner

    from prefsynth.cli.main import app

    def cli(*args):
        result = CliRunner().invoke(app, [str(a) for a in args])
        return result.exit_code, result.stdout, result.stderr

    rows, gold, _ = simulate(150, seed=7)
    (tmp_path / "j.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gold))
    build = "name: sim\nprompts: {path: gold.jsonl}\npolicies: [{kind: imported}]\n" + JURY_YAML.replace(
        "filters: []", "filters: [{kind: confidence, min_confidence: 0.8}]")
    (tmp_path / "build.yaml").write_text(build)
    catalog = tmp_path / "c.duckdb"
    assert cli("import-judgments", tmp_path / "j.jsonl", "--catalog", catalog)[0] == 0
    out = tmp_path / "fitted" / "jury.yaml"
    out.parent.mkdir()
    code, stdout, err = cli("eval-judge", tmp_path / "build.yaml", "--gold", tmp_path / "gold.jsonl", "--catalog",
                            catalog, "--fit", out, "--json")
    assert code == 0, err + stdout
    report = json.loads(stdout)
    by_name = {a["aggregation"]: a for a in report["aggregations"]}
    assert set(by_name) == {"majority", "dawid_skene", "fitted"} and by_name["fitted"]["how"] == "5-fold cross-validated"
    assert report["fit"]["cv_accuracy"] == by_name["fitted"]["accuracy"] > by_name["majority"]["accuracy"]
    written = yaml.safe_load(out.read_text())
    assert written["aggregation"]["kind"] == "fitted" and written["prompts"]["path"] == str(tmp_path / "gold.jsonl")
    assert set(written["aggregation"]["coefficients"]) <= set(JUDGES)
    code, stdout, err = cli("build", out, "--catalog", catalog, "--json")
    assert code == 0, err + stdout
    stats = json.loads(stdout)["stats"]
    assert stats["pairs"] == 150
    import duckdb

    con = duckdb.connect(str(catalog), read_only=True)
    kinds = con.execute("SELECT DISTINCT aggregation FROM pairs WHERE confidence IS NOT NULL").fetchall()
    con.close()
    assert ("fitted",) in kinds
    # issue 17 item 5: the report plots the fitted jury's cross-validated frontier and this build's coverage.
    code, stdout, err = cli("report", "sim", "--out", tmp_path / "report", "--catalog", catalog, "--json")
    assert code == 0, err + stdout
    summary = json.loads(stdout)
    assert "confidence.png" in summary["plots"] and (tmp_path / "report" / "confidence.png").stat().st_size > 0
    conf = summary["confidence"]
    assert conf["aggregation"] == "fitted" and conf["threshold"] == 0.8 and conf["pairs"] == 150
    assert conf["frontier"] == report["fit"]["frontier"] and conf["frontier_how"].startswith("5-fold")
    kept = stats["funnel"]["pairs_out"]
    assert [r["share"] for r in conf["coverage"] if r["threshold"] == 0.8] == [pytest.approx(kept / 150, abs=1e-4)]


@pytest.mark.usefixtures("prefect_harness")
def test_the_calibrated_jury_example_runs(tmp_path):
    """examples/calibrated_jury.yaml with its gold file and judgments: import, eval-judge --fit, both builds."""
    import shutil

    from typer.testing import CliRunner

    from prefsynth.cli.main import app

    examples = Path(__file__).resolve().parents[3] / "examples"
    for name in ("calibrated_jury.yaml", "calibration_gold.jsonl", "calibration_judgments.jsonl"):
        shutil.copy(examples / name, tmp_path / name)

    def run(*args):
        result = CliRunner().invoke(app, [str(a) for a in (*args, "--catalog", tmp_path / "c.duckdb", "--json")])
        assert result.exit_code == 0, result.stderr + result.stdout
        return json.loads(result.stdout)

    assert run("import-judgments", tmp_path / "calibration_judgments.jsonl")["judgments"] == 120
    report = run("eval-judge", tmp_path / "calibrated_jury.yaml", "--gold", tmp_path / "calibration_gold.jsonl",
                 "--fit", tmp_path / "fitted.yaml")
    assert report["items"] == 24 and "strong-llm" in report["fit"]["coefficients"]
    ds = run("build", tmp_path / "calibrated_jury.yaml")
    fitted = run("build", tmp_path / "fitted.yaml")
    assert ds["stats"]["pairs"] == fitted["stats"]["pairs"] == 24
