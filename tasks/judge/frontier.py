"""Precision / coverage of a jury's confidence on gold labels (issue 17): the frontier a user picks a
`confidence` threshold from.

For an aggregation that gives P(x better) per gold item: `accuracy` at full coverage (a tie, P = 0.5, is not
correct), and for each threshold t the items whose confidence max(P, 1 − P) is ≥ t (ties never): `coverage` =
kept / items, `precision` = share of the kept whose side is the gold side. The P's must come from a model that
did not see the item's label (cross-validated, or an aggregation that uses no gold). Pure functions.
"""

from __future__ import annotations

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)


def _right(p: float, x_better: bool) -> bool:
    return p > 0.5 if x_better else p < 0.5


def frontier(p_x: list[float | None], x_better: list[bool], thresholds=THRESHOLDS) -> list[dict]:
    """One row per threshold: threshold, kept, coverage, precision (None when nothing is kept)."""
    n = len(p_x)
    rows = []
    for t in thresholds:
        kept = [(p, g) for p, g in zip(p_x, x_better, strict=True) if p is not None and p != 0.5 and max(p, 1 - p) >= t]
        right = sum(_right(p, g) for p, g in kept)
        rows.append({"threshold": t, "kept": len(kept), "coverage": round(len(kept) / n, 4) if n else None,
                     "precision": round(right / len(kept), 4) if kept else None})
    return rows


def summarise(name: str, how: str, p_x: list[float | None], x_better: list[bool]) -> dict:
    """An aggregation's row of the report: full-coverage accuracy and its frontier; `how` says why the numbers
    are honest (cross-validated, no gold used, …)."""
    right = sum(p is not None and _right(p, g) for p, g in zip(p_x, x_better, strict=True))
    return {"aggregation": name, "how": how, "items": len(p_x),
            "accuracy": round(right / len(p_x), 4) if p_x else None, "frontier": frontier(p_x, x_better)}


def best_operating_point(rows: list[dict], min_precision: float) -> dict | None:
    """The frontier row with the largest coverage whose precision is at least `min_precision`."""
    ok = [r for r in rows if r["precision"] is not None and r["precision"] >= min_precision]
    return max(ok, key=lambda r: r["coverage"]) if ok else None
