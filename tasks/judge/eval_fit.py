"""`eval-judge`'s calibration part (issue 17): each aggregation's accuracy and precision/coverage frontier on
gold, the fitted jury (k-fold cross-validated; what each juror adds), and `--fit OUT.yaml`.

Every number is honest about the data it saw: majority and Dawid–Skene use no gold label; the fitted jury's
numbers are out-of-fold (tasks/judge/fitted.py). A configured `fitted` aggregation is also evaluated as given,
marked as possibly fitted on this very gold file. The written config is the input config with `aggregation`
replaced by the model fitted on all gold items, so a build (or eval-judge) uses it as is.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ...schemas.aggregation import FittedAggregation
from .dawid_skene import dawid_skene
from .evaluation import GoldItem
from .fitted import fit_jury, probability
from .frontier import summarise
from .jury import aggregate, votes_for
from .panel import Verdicts


def _majority_p_x(items: list[GoldItem], result: Verdicts) -> list[float | None]:
    out = []
    for item, js in zip(items, result.by_pair, strict=True):
        pair = aggregate(item.a, item.b, js, result.jury)
        c = pair.confidence
        out.append(None if c is None else c if pair.chosen_id == item.a.id else 1.0 - c)
    return out


def calibration(config, items: list[GoldItem], result: Verdicts, names: list[str], folds: int = 5,
                seed: int = 0) -> dict:
    """`aggregations` (majority, dawid_skene, fitted CV, the configured fitted model) and `fit` (coefficients
    on all items, CV accuracy, folds, each juror's added value), or `fit_error` when the gold is too small."""
    readings = [votes_for(i.a, i.b, js, result.jury) for i, js in zip(items, result.by_pair, strict=True)]
    gold = [i.label == "A>B" for i in items]
    rows = [summarise("majority", "no gold used", _majority_p_x(items, result), gold),
            summarise("dawid_skene", "EM on the jurors' votes, no gold used", dawid_skene(readings), gold)]
    out: dict = {}
    judges = list(dict.fromkeys(names))
    try:
        fit = fit_jury(readings, gold, judges, folds, seed)
    except ValueError as exc:
        out["fit_error"] = str(exc)
    else:
        rows.append(summarise("fitted", f"{fit.folds}-fold cross-validated", fit.oof, gold))
        out["fit"] = {"coefficients": fit.coefficients, "cv_accuracy": fit.cv_accuracy, "folds": fit.folds,
                      "added_value": fit.added_value, "frontier": rows[-1]["frontier"]}
    if isinstance(config.aggregation, FittedAggregation):
        p = [probability(config.aggregation, r) for r in readings]
        rows.append(summarise("fitted (as configured)", "as configured: may have been fitted on this gold", p, gold))
    return {"aggregations": rows, **out}


def write_fitted_config(config_path: Path | str, out_path: Path | str, report: dict, gold_path: str) -> Path:
    """CONFIG with `aggregation: {kind: fitted, coefficients, fit}`; relative input paths made absolute when
    OUT is in another folder (so it reads the same files)."""
    if "fit" not in report:
        raise ValueError(f"nothing to write: {report.get('fit_error', 'no fit')}")
    config_path, out_path = Path(config_path), Path(out_path)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if config_path.resolve().parent != out_path.resolve().parent:
        _absolute_paths(data, config_path.resolve().parent)
    fit = report["fit"]
    data["aggregation"] = {
        "kind": "fitted",
        "coefficients": fit["coefficients"],
        "fit": {"gold": str(Path(gold_path).resolve()), "items": report["items"], "folds": fit["folds"],
                "cv_accuracy": fit["cv_accuracy"], "added_value": fit["added_value"], "frontier": fit["frontier"]},
    }
    FittedAggregation.model_validate(data["aggregation"])
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    tmp.replace(out_path)
    return out_path


def _absolute_paths(data: dict, base: Path) -> None:
    for section in data.values():
        if isinstance(section, dict) and isinstance(section.get("path"), str):
            section["path"] = str((base / section["path"]).resolve())
    for engine in (data.get("engines") or {}).values():
        if isinstance(engine, dict) and isinstance(engine.get("model_path"), str):
            engine["model_path"] = str((base / engine["model_path"]).resolve())
