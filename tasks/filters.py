"""Pair filters: pure functions returning keep + reason. Dropped pairs are kept, with the reason, by the caller.

Each filter sees a pair and a `FilterContext` (the build's judgments and samples) and returns
`(keep, reason)`. `run_filters` applies them in the configured order and records every decision up to the
one that drops a pair, so the funnel (pairs in → dropped per reason → pairs out) is exact.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from ..schemas.preference import FilterDecision, Judgment, PreferencePair, Sample
from ..schemas.stages import FilterConfig


@dataclass(frozen=True)
class FilterContext:
    judgments: dict[str, Judgment]
    samples: dict[str, Sample]


Filter = Callable[[PreferencePair, FilterContext], tuple[bool, str]]


def position_swap(pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Keep iff both orders produced a verdict and they name the same winner (or both a tie).

    Position bias is the best-documented failure of LLM judges (Zheng et al. 2023, MT-Bench; Wang et al. 2023,
    "Large Language Models are not Fair Evaluators").
    """
    judgments = [ctx.judgments[j] for j in pair.judgment_ids]
    failed = [j for j in judgments if j.status != "ok"]
    if failed:
        return False, f"no verdict in one order ({failed[0].status})"
    shown_first = {j.first_id for j in judgments}
    if len(shown_first) < 2:
        return False, "judged in one order only"
    signs = {_sign(j.margin_for(pair.chosen_id) or 0) for j in judgments}
    if len(signs) > 1:
        return False, "verdict flips when the order is swapped"
    return True, "same winner in both orders"


def drop_ties(pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Drop pairs with no preference (mean margin 0, or no parsed verdict)."""
    if pair.tie:
        return False, "tie" if pair.n_parsed else "no parsed verdict"
    return True, "has a winner"


FILTERS: dict[str, Filter] = {"position_swap": position_swap, "drop_ties": drop_ties}


def run_filters(
    pairs: list[PreferencePair], configs: list[FilterConfig], ctx: FilterContext
) -> tuple[list[PreferencePair], list[FilterDecision]]:
    """Apply filters in order; returns the kept pairs and every decision made."""
    kept, decisions = [], []
    for pair in pairs:
        for cfg in configs:
            keep, reason = FILTERS[cfg.kind](pair, ctx)
            decisions.append(FilterDecision(pair_id=pair.id, filter=cfg.kind, keep=keep, reason=reason))
            if not keep:
                break
        else:
            kept.append(pair)
    return kept, decisions


def funnel(n_pairs: int, configs: list[FilterConfig], decisions: list[FilterDecision]) -> dict:
    """Pairs in, dropped per filter and reason, pairs out."""
    dropped = Counter((d.filter, d.reason) for d in decisions if not d.keep)
    steps = []
    remaining = n_pairs
    for cfg in configs:
        reasons = {r: c for (f, r), c in sorted(dropped.items()) if f == cfg.kind}
        n = sum(reasons.values())
        steps.append({"filter": cfg.kind, "in": remaining, "dropped": n, "reasons": reasons})
        remaining -= n
    return {"pairs_in": n_pairs, "steps": steps, "pairs_out": remaining}


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)
