"""Calibrated juries on the simulated jury (issue 17): is a fitted jury better than its best juror, how much
can a confidence filter keep at ≥ 85 % precision, and does Dawid–Skene (no gold) beat the plain majority?

Everything goes through the real commands in fresh processes: `prefsynth import-judgments` of the simulated
jurors' recorded judgments (sim_jury.py), `prefsynth eval-judge CONFIG --gold FILE --fit OUT.yaml --json` on a
training set (k-fold cross-validated numbers), then `prefsynth eval-judge OUT.yaml --gold HELDOUT --json` on a
fresh set of the same jury (held-out numbers of the model fitted on all training items). Reported per setting:
- best juror: the best single juror's double-order accuracy (eval-judge's per-juror rows; nothing is fitted);
- majority, dawid_skene: accuracy on the training set (neither uses a gold label);
- fitted: k-fold CV accuracy on the training set, and accuracy of the written config on the held-out set;
- confidence filter: the largest coverage at ≥ 85 % precision on the fitted jury's CV frontier and held out;
- bayes: the accuracy of the simulation's own Bayes-optimal rule (the ceiling; uses the true model).
Two settings: reward-model error correlation 0.41 (the default simulation) and 0.8 (where Dawid–Skene's
independence assumption breaks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_jury import JURY_YAML, SimJury, bayes_log_odds, simulate  # noqa: E402
from workload import machine, write_result  # noqa: E402

from prefsynth.tasks.judge.frontier import best_operating_point  # noqa: E402

PREFSYNTH = str(Path(sys.executable).with_name("prefsynth"))
SETTINGS = {"rho_0.41": SimJury(), "rho_0.80": SimJury(rm_noise=0.5)}


def run(*args) -> dict:
    proc = subprocess.run([PREFSYNTH, *map(str, args)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"prefsynth {' '.join(map(str, args))} failed:\n{proc.stderr}{proc.stdout}")
    return json.loads(proc.stdout)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_setting(name: str, sim: SimJury, n: int, seed: int, folds: int, work: Path) -> dict:
    rows, gold, truth = simulate(n, seed, sim, tag=f"{name}-train-")
    held_rows, held_gold, held_truth = simulate(n, seed + 1000, sim, tag=f"{name}-heldout-")
    catalog = work / f"{name}.duckdb"
    run("import-judgments", write_jsonl(work / f"{name}-j.jsonl", rows + held_rows), "--catalog", catalog, "--json")
    config = work / f"{name}.yaml"
    config.write_text(JURY_YAML)
    fitted = work / f"{name}-fitted.yaml"
    train = run("eval-judge", config, "--gold", write_jsonl(work / f"{name}-gold.jsonl", gold), "--catalog", catalog,
                "--fit", fitted, "--folds", folds, "--json")
    held = run("eval-judge", fitted, "--gold", write_jsonl(work / f"{name}-held.jsonl", held_gold), "--catalog",
               catalog, "--json")
    aggs = {a["aggregation"]: a for a in train["aggregations"]}
    held_fit = next(a for a in held["aggregations"] if a["aggregation"] == "fitted (as configured)")
    jurors = {g["judges"][0]: g["accuracy"] for g in train["groups"] if g["jurors"] == 1}
    best = max(jurors, key=jurors.get)
    cv_point = best_operating_point(aggs["fitted"]["frontier"], 0.85)
    held_point = best_operating_point(held_fit["frontier"], 0.85)
    return {
        "items": n, "heldout_items": n, "folds": folds,
        "jurors": jurors, "best_juror": best, "best_juror_accuracy": jurors[best],
        "majority_accuracy": aggs["majority"]["accuracy"], "dawid_skene_accuracy": aggs["dawid_skene"]["accuracy"],
        "fitted_cv_accuracy": aggs["fitted"]["accuracy"], "fitted_heldout_accuracy": held_fit["accuracy"],
        "fitted_gain_over_best_juror_cv": round(aggs["fitted"]["accuracy"] - jurors[best], 4),
        "confidence_filter_cv_at_85": cv_point, "confidence_filter_heldout_at_85": held_point,
        "bayes_accuracy": round(sum((bayes_log_odds(t, sim) > 0) == t.a_better for t in truth) / n, 4),
        "added_value": train["fit"]["added_value"], "coefficients": train["fit"]["coefficients"],
        "frontiers": {a["aggregation"]: a["frontier"] for a in train["aggregations"]},
        "heldout_frontier": held_fit["frontier"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000, help="gold items per set (training and held-out)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "jury_calibration.json")
    args = ap.parse_args()
    load = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: one_setting(name, sim, args.items, args.seed, args.folds, Path(tmp))
                   for name, sim in SETTINGS.items()}
    write_result(args.out, {"benchmark": "jury_calibration", "command": " ".join(sys.argv),
                            "seconds": round(time.perf_counter() - started, 1), "machine": machine(load),
                            "settings": {k: vars(v) for k, v in SETTINGS.items()}, "results": results})


if __name__ == "__main__":
    main()
