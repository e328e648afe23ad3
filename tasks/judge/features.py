"""Per-juror features of one pair for a fitted jury (issue 17): what a juror said in each order, whether it
agreed with itself, and its rating difference — all on the vote scale −2..2 in favour of response x.

For juror J: `xy` = its vote when x was shown first, `yx` = when y was shown first (0 when it abstained in that
order: a parse error, a tie, a score difference below its threshold), `agree` = the mean of the two when both
orders name the same winner, else 0 (order consistency: a position-biased juror's consistent verdicts can weigh
more than its flipped ones), `scores` = its rating difference (pointwise jurors), `score_diff` = its score
difference for x in its own units (imported reward models, debate scores, ratings; the mean over its orders) —
what a vote without a declared range (its sign only) or a clipped one leaves out. Every feature is odd under
swapping x and y (`swap`), so a model without intercept gives P(y better) = 1 − P(x better). Pure functions.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from ...schemas.aggregation import FEATURES
from .votes import Vote

Column = tuple[str, str]  # (judge, feature)


def juror_features(readings: list[Vote]) -> dict[str, dict[str, float]]:
    """judge → feature → value for one pair's readings (see the module docstring)."""
    slots: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    raws: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for v in readings:
        slots[v.judge]  # a juror with no parsed reading still has (all-zero) features
        if v.margin is not None:
            slots[v.judge][v.slot].append(v.margin)
        if v.raw is not None:
            raws[v.judge][v.slot].append(v.raw)
    out = {}
    for judge, by_slot in slots.items():
        xy, yx, scores = (mean(by_slot[s]) if by_slot.get(s) else 0.0 for s in ("xy", "yx", "scores"))
        same = xy * yx > 0  # both orders voted, for the same response
        by_order = [mean(r) for r in raws[judge].values() if r]
        out[judge] = {"xy": xy, "yx": yx, "agree": (xy + yx) / 2 if same else 0.0, "scores": scores,
                      "score_diff": mean(by_order) if by_order else 0.0}
    return out


def columns_for(judges: list[str]) -> list[Column]:
    """Every (judge, feature) column, judges in the given order."""
    return [(j, f) for j in judges for f in FEATURES]


def vector(readings: list[Vote], columns: list[Column]) -> list[float]:
    feats = juror_features(readings)
    return [feats.get(j, {}).get(f, 0.0) for j, f in columns]


_SWAP = {"xy": "yx", "yx": "xy", "agree": "agree", "scores": "scores", "score_diff": "score_diff"}


def swap(row: list[float], columns: list[Column]) -> list[float]:
    """The same pair with x and y exchanged: `xy` becomes −`yx` (and back), every other feature changes sign."""
    index = {c: k for k, c in enumerate(columns)}
    return [-row[index[(j, _SWAP[f])]] for j, f in columns]
