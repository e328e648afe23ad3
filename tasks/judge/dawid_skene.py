"""Dawid–Skene over a jury's own votes (issue 17): P(x better) per pair without gold labels.

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM algorithm": every
rater has a confusion matrix (P(says x | x better), P(says x | y better), …), estimated with the pairs' classes
by EM. Here a rater is one juror in one order (`JUDGE#xy`: x shown first, `JUDGE#yx`, `JUDGE#scores`), so a juror
that favours whatever is shown first gets two very different matrices, and its verdicts count for what they
are worth. Abstaining readings (None or 0) are no label. The EM is crowd-kit's `DawidSkene` (Toloka), not ours.
"""

from __future__ import annotations

import warnings

from .votes import Vote


def rater_labels(pair_readings: list[list[Vote]]) -> list[tuple[int, str, str]]:
    """(pair index, rater, "x" | "y") for every reading that voted."""
    return [(k, f"{v.judge}#{v.slot}", "x" if v.margin > 0 else "y")
            for k, readings in enumerate(pair_readings) for v in readings if v.margin]


def dawid_skene(pair_readings: list[list[Vote]], n_iter: int = 100, tol: float = 1e-5) -> list[float | None]:
    """P(x better) for each pair (None: no rater voted on it), by crowd-kit's Dawid–Skene EM over all pairs."""
    labels = rater_labels(pair_readings)
    out: list[float | None] = [None] * len(pair_readings)
    if not labels:
        return out
    import pandas as pd

    with warnings.catch_warnings():  # crowd-kit's import pulls nltk/transformers, which warn about optional deps
        warnings.simplefilter("ignore")
        from crowdkit.aggregation import DawidSkene

    frame = pd.DataFrame(labels, columns=["task", "worker", "label"])
    probas = DawidSkene(n_iter=n_iter, tol=tol).fit_predict_proba(frame)
    p_x = probas["x"] if "x" in probas.columns else pd.Series(0.0, index=probas.index)
    for task, p in p_x.items():
        out[int(task)] = float(p)
    return out
