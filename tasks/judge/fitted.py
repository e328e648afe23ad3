"""A jury fitted on gold labels (issue 17): a regularised logistic model of P(x better) over the jurors'
features (tasks/judge/features.py), its k-fold cross-validated accuracy, and what each juror adds.

The model is scikit-learn's `LogisticRegressionCV` (L2; the strength C chosen among `CS` by an inner 3-fold
cross-validation on log-loss), fitted with no intercept on every gold item *and its mirror image* (x and y exchanged, label
reversed): which response a gold file calls A says nothing about which is better, so the model must not learn
it, and P(y better) = 1 − P(x better) exactly. Every reported accuracy is out-of-fold: each item is predicted by
a model that never saw it (both of its images stay in one fold). Pure apart from scikit-learn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...schemas.aggregation import FittedAggregation
from .features import Column, swap, vector
from .votes import Vote

CS = np.logspace(-3, 2, 7)  # the inverse L2 strengths C the inner cross-validation chooses from
INNER_FOLDS = 3


def probability(model: FittedAggregation, readings: list[Vote]) -> float:
    """P(x better) = σ(Σ coefficient × feature) for one pair's readings (0.5 when no feature fires)."""
    columns = [(j, f) for j, feats in sorted(model.coefficients.items()) for f in sorted(feats)]
    z = sum(model.coefficients[j][f] * value for (j, f), value in zip(columns, vector(readings, columns), strict=True))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@dataclass(frozen=True)
class FitReport:
    coefficients: dict[str, dict[str, float]]  # fitted on every item
    oof: list[float]  # out-of-fold P(x better) for each item
    cv_accuracy: float
    folds: int
    added_value: dict[str, float]  # CV accuracy of the full model minus that without the juror


def design(pair_readings: list[list[Vote]], columns: list[Column]) -> np.ndarray:
    return np.array([vector(r, columns) for r in pair_readings], dtype=float).reshape(len(pair_readings), len(columns))


def _mirrored(x: np.ndarray, y: np.ndarray, columns: list[Column]) -> tuple[np.ndarray, np.ndarray]:
    flipped = np.array([swap(list(row), columns) for row in x]).reshape(x.shape)
    return np.vstack([x, flipped]), np.concatenate([y, 1 - y])


def _fit(x: np.ndarray, y: np.ndarray, columns: list[Column]) -> np.ndarray:
    """Coefficients of the L2 logistic model on the items and their mirror images (C by inner CV)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    xa, ya = _mirrored(x, y, columns)
    groups = np.concatenate([np.arange(len(y)), np.arange(len(y))])
    inner = max(2, min(INNER_FOLDS, len(y) // 2))
    splits = list(GroupKFold(n_splits=inner).split(xa, ya, groups))
    # l1_ratios=(0,): a pure L2 penalty; Newton–Cholesky: exact and fast for a few dozen features.
    model = LogisticRegressionCV(Cs=CS, cv=splits, fit_intercept=False, scoring="neg_log_loss", max_iter=1000,
                                 solver="newton-cholesky", l1_ratios=(0.0,), use_legacy_attributes=False)
    model.fit(xa, ya)
    return model.coef_[0]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def out_of_fold(x: np.ndarray, y: np.ndarray, columns: list[Column], folds: int, seed: int) -> np.ndarray:
    """P(x better) for every item from a model fitted on the other folds (stratified k-fold; plain k-fold when
    one gold side is too rare to stratify — a file whose label is always A>B still trains on both sides, as
    every item also enters mirrored)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    p = np.full(len(y), 0.5)
    stratify = min(int(y.sum()), len(y) - int(y.sum())) >= folds
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, y):
        p[test] = _sigmoid(x[test] @ _fit(x[train], y[train], columns))
    return p


def accuracy(p: np.ndarray | list, y: np.ndarray | list) -> float:
    """Share of items whose predicted side is the gold side; P = 0.5 (no information) is a tie, not correct."""
    p, y = np.asarray(p, dtype=float), np.asarray(y)
    right = ((p > 0.5) & (y == 1)) | ((p < 0.5) & (y == 0))
    return float(right.mean()) if len(y) else 0.0


def fit_jury(pair_readings: list[list[Vote]], x_better: list[bool], judges: list[str], folds: int = 5,
             seed: int = 0) -> FitReport:
    """Fit on every item, report k-fold CV accuracy and each juror's added value (CV accuracy without it)."""
    from .features import columns_for

    y = np.array([1 if b else 0 for b in x_better])
    if len(y) < 2 * folds:
        raise ValueError(f"{len(y)} gold items are too few for {folds}-fold cross-validation (need {2 * folds})")
    columns = columns_for(judges)
    x = design(pair_readings, columns)
    oof = out_of_fold(x, y, columns, folds, seed)
    full = accuracy(oof, y)
    added = {}
    for judge in judges if len(judges) > 1 else []:
        keep = [k for k, (j, _) in enumerate(columns) if j != judge]
        sub = [columns[k] for k in keep]
        added[judge] = round(full - accuracy(out_of_fold(x[:, keep], y, sub, folds, seed), y), 4)
    coef = _fit(x, y, columns)
    coefficients: dict[str, dict[str, float]] = {}
    for (j, f), c in zip(columns, coef, strict=True):
        if abs(c) > 1e-9:
            coefficients.setdefault(j, {})[f] = round(float(c), 6)
    return FitReport(coefficients, [float(v) for v in oof], round(full, 4), folds, added)
