"""`eval-judge`'s report as tables (its config is read by config/preference.py:load_eval_config)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}%"


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def print_eval_report(r: dict, out: Console) -> None:
    title = (f"judge evaluation: {r['items']} gold pairs ({', '.join(r['sources'])}); "
             f"gold prefers the longer response {_pct(r['gold_longer_wins'])}")
    main = Table("group", "protocol", "accuracy", "swap-inconsistent", "parse errors", "longer wins", "Cohen κ",
                 title=title, title_justify="left")
    for g in r["groups"]:
        main.add_row(g["group"], g["protocol"], _pct(g["accuracy"]), _pct(g["swap_inconsistency"]),
                     _pct(g["parse_error_rate"]), _pct(g["longer_wins"]), _num(g["cohen_kappa"]))
    out.print(main)
    for g in r["groups"]:
        if g["jurors"] == 1:
            out.print(f"  {g['group']}: {g['judges'][0]}", highlight=False)
    by_source = Table("group", *r["sources"], title="accuracy by source", title_justify="left")
    for g in r["groups"]:
        by_source.add_row(g["group"], *(_pct(g["by_source"].get(s, {}).get("accuracy")) for s in r["sources"]))
    out.print(by_source)
    labels = [row["filter"] for row in r["groups"][0]["filters"]] if r["groups"] else []
    curve = Table("filter", *(g["group"] for g in r["groups"]), title="coverage / accuracy of the kept pairs after "
                  "each filter (cumulative)", title_justify="left")
    for k, label in enumerate(labels):
        cells = (f"{_pct(g['filters'][k]['coverage'], 0)} / {_pct(g['filters'][k]['accuracy'], 0)}" for g in r["groups"])
        curve.add_row(label, *cells)
    out.print(curve)
    print_calibration(r, out)
    out.print(f"engine calls {r['engine_calls']} (cache hits {r['cache_hits']}), wall time {r['wall_time_s']:.1f} s")


def print_calibration(r: dict, out: Console) -> None:
    """Each aggregation's accuracy and frontier (coverage / precision per confidence threshold), the fitted
    weights and what each juror adds (issue 17)."""
    rows = r.get("aggregations") or []
    if not rows:
        return
    summary = Table("aggregation", "accuracy", "numbers from", title="aggregations: accuracy at full coverage",
                    title_justify="left")
    for a in rows:
        summary.add_row(a["aggregation"], _pct(a["accuracy"]), a["how"])
    out.print(summary)
    frontier = Table("confidence ≥", *(a["aggregation"] for a in rows), title="frontier: coverage / precision of "
                     "the pairs at or above each confidence", title_justify="left")
    for k, first in enumerate(rows[0]["frontier"]):
        frontier.add_row(f"{first['threshold']:g}", *(f"{_pct(a['frontier'][k]['coverage'], 0)} / "
                                                       f"{_pct(a['frontier'][k]['precision'], 0)}" for a in rows))
    out.print(frontier)
    if "fit" in r:
        fit = r["fit"]
        weights = Table("juror", "coefficients", "added CV accuracy", title=f"fitted jury ({fit['folds']}-fold CV "
                        f"accuracy {_pct(fit['cv_accuracy'])}; coefficients fitted on all items)", title_justify="left")
        for judge in dict.fromkeys([*fit["coefficients"], *fit["added_value"]]):
            coefs = ", ".join(f"{k} {v:+.3f}" for k, v in fit["coefficients"].get(judge, {}).items()) or "–"
            added = fit["added_value"].get(judge)
            weights.add_row(judge, coefs, "–" if added is None else f"{100 * added:+.1f} pts")
        out.print(weights)
    elif "fit_error" in r:
        out.print(f"fitted jury: not fitted ({r['fit_error']})", highlight=False)
