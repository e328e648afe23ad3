"""Agreement statistics, pure Python: Fleiss' κ, Krippendorff's α, Cohen's κ and Kendall's τ-b.

Written out rather than imported so the runtime needs no scientific stack; the tests check each one against
hand-computed values and against `statsmodels`, `krippendorff`, `scikit-learn` and `scipy`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import combinations
from math import sqrt
from typing import Literal

Missing = None


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' κ (Fleiss 1971) over items × raters, every item rated by the same number (≥ 2) of raters.

    None when it is undefined: no items, or every rating in the same category (chance agreement is 1).
    """
    if not ratings:
        return None
    n = len(ratings[0])
    if n < 2 or any(len(r) != n for r in ratings):
        raise ValueError("Fleiss' κ needs the same number (≥ 2) of ratings for every item")
    totals: Counter = Counter()
    per_item = []
    for row in ratings:
        counts = Counter(row)
        totals.update(counts)
        per_item.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
    n_ratings = n * len(ratings)
    p_bar = sum(per_item) / len(per_item)
    p_e = sum((c / n_ratings) ** 2 for c in totals.values())
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha(
    units: Sequence[Sequence[float | None]], level: Literal["nominal", "interval"] = "nominal"
) -> float | None:
    """Krippendorff's α over units × raters; None marks a missing rating (a juror whose reply did not parse).

    Units with fewer than two ratings are not pairable and are left out (Krippendorff 2011, "Computing
    Krippendorff's Alpha-Reliability"). None when undefined (fewer than two pairable values, or no variation).
    """
    coincidence: Counter = Counter()
    for unit in units:
        values = [v for v in unit if v is not None]
        m = len(values)
        if m < 2:
            continue
        for a, b in combinations(values, 2):
            coincidence[(a, b)] += 1 / (m - 1)
            coincidence[(b, a)] += 1 / (m - 1)
    marginals: Counter = Counter()
    for (a, _b), w in coincidence.items():
        marginals[a] += w
    n = sum(marginals.values())
    if n < 2:
        return None
    delta = _delta(level)
    observed = sum(w * delta(a, b) for (a, b), w in coincidence.items()) / n
    expected = sum(marginals[a] * marginals[b] * delta(a, b) for a in marginals for b in marginals) / (n * (n - 1))
    return None if expected == 0 else 1 - observed / expected


def _delta(level: str):
    if level == "nominal":
        return lambda a, b: 0.0 if a == b else 1.0
    if level == "interval":
        return lambda a, b: float(a - b) ** 2
    raise ValueError(f"unknown level {level!r}")


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's κ (Cohen 1960) between two label sequences of equal length; None when chance agreement is 1."""
    if len(a) != len(b):
        raise ValueError("Cohen's κ needs two sequences of the same length")
    if not a:
        return None
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's τ-b (ties corrected) between two scorings of the same items; None when either is constant."""
    if len(x) != len(y):
        raise ValueError("Kendall's τ needs two sequences of the same length")
    concordant = discordant = ties_x = ties_y = 0
    for i, j in combinations(range(len(x)), 2):
        dx, dy = _sign(x[i] - x[j]), _sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            ties_x += 1
        elif dy == 0:
            ties_y += 1
        elif dx == dy:
            concordant += 1
        else:
            discordant += 1
    denom = sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return None if denom == 0 else (concordant - discordant) / denom


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)
