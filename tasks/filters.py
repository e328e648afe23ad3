"""Running the configured pair filters in order, and the funnel they make (pairs in → dropped per reason → out).

Filters run stage by stage: every pair that survived filter k meets filter k + 1, so dataset-level filters
(near-duplicate prompts, rank consistency) see exactly the pairs still in play. Each decision is
recorded up to the one that drops a pair; a filter may keep a changed pair instead (see tasks/filter_rules.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable

from ..schemas.preference import FilterDecision, PreferencePair
from ..schemas.stages import FilterConfig
from . import filter_dataset as ds
from . import filter_rules as rules
from .filter_confidence import confidence
from .filter_rules import FilterContext, Outcome, drop_ties, position_swap
from .judge.verifier import verified

__all__ = ["FilterContext", "FilterRun", "Outcome", "drop_ties", "filter_labels", "filter_pairs", "funnel",
           "funnel_of_counts", "position_swap", "run_filters"]

Decide = Callable[[FilterConfig, PreferencePair, FilterContext], "tuple[bool, str] | Outcome"]
Prepare = Callable[[FilterConfig, list[PreferencePair], FilterContext], FilterContext]


@dataclass(frozen=True)
class _Spec:
    decide: Decide
    prepare: Prepare | None = None


FILTERS: dict[str, _Spec] = {
    "position_swap": _Spec(lambda cfg, pair, ctx: position_swap(pair, ctx)),
    "drop_ties": _Spec(lambda cfg, pair, ctx: drop_ties(pair, ctx)),
    "agreement": _Spec(rules.agreement),
    "strength": _Spec(rules.strength),
    "length_bias": _Spec(rules.length_bias),
    "near_duplicate_pair": _Spec(ds.near_duplicate_pair),
    "near_duplicate_prompt": _Spec(ds.near_duplicate_prompt, ds.prepare_near_duplicate_prompts),
    "rank_consistency": _Spec(ds.rank_consistency, ds.prepare_rank_consistency),
    "confidence": _Spec(confidence),
    "verified": _Spec(lambda cfg, pair, ctx: verified(pair, ctx.prompts, ctx.judgments)),
}


@dataclass(frozen=True)
class FilterRun:
    kept: list[PreferencePair]
    decisions: list[FilterDecision]  # pair-major: each pair's decisions in filter order
    derived: list[PreferencePair]  # pairs changed by a filter (new records, kept or dropped later)


def filter_labels(configs: list[FilterConfig]) -> list[str]:
    """A filter's name in decisions and the funnel: its kind, numbered when the same kind appears twice."""
    counts = Counter(c.kind for c in configs)
    seen: Counter = Counter()
    labels = []
    for c in configs:
        seen[c.kind] += 1
        labels.append(c.kind if counts[c.kind] == 1 else f"{c.kind}#{seen[c.kind]}")
    return labels


def filter_pairs(pairs: list[PreferencePair], configs: list[FilterConfig], ctx: FilterContext) -> FilterRun:
    """Apply the filters in order; every decision and every changed pair is returned."""
    ctx = ctx if ctx.all_pairs else replace(ctx, all_pairs=tuple(pairs))
    live = list(enumerate(pairs))
    decisions: dict[int, list[FilterDecision]] = {i: [] for i in range(len(pairs))}
    derived: list[PreferencePair] = []
    for cfg, label in zip(configs, filter_labels(configs), strict=True):
        spec = FILTERS[cfg.kind]
        stage_ctx = spec.prepare(cfg, [p for _, p in live], ctx) if spec.prepare else ctx
        survivors = []
        for i, pair in live:
            out = _outcome(spec.decide(cfg, pair, stage_ctx))
            new = out.pair if out.keep else None
            decisions[i].append(FilterDecision(pair_id=pair.id, filter=label, keep=out.keep, reason=out.reason,
                                               replaced_by=new.id if new else None))
            if new:
                derived.append(new)
            if out.keep:
                survivors.append((i, new or pair))
        live = survivors
    ordered = [d for i in range(len(pairs)) for d in decisions[i]]
    return FilterRun(kept=[p for _, p in live], decisions=ordered, derived=derived)


def run_filters(
    pairs: list[PreferencePair], configs: list[FilterConfig], ctx: FilterContext
) -> tuple[list[PreferencePair], list[FilterDecision]]:
    """`filter_pairs` without the changed pairs: (kept pairs, decisions)."""
    run = filter_pairs(pairs, configs, ctx)
    return run.kept, run.decisions


def _outcome(result: tuple[bool, str] | Outcome) -> Outcome:
    return result if isinstance(result, Outcome) else Outcome(*result)


def funnel(n_pairs: int, configs: list[FilterConfig], decisions: list[FilterDecision]) -> dict:
    """Pairs in, dropped (and changed) per filter and reason, pairs out."""
    dropped = Counter((d.filter, d.reason) for d in decisions if not d.keep)
    changed = Counter((d.filter, d.reason) for d in decisions if d.keep and d.replaced_by)
    return funnel_of_counts(n_pairs, configs, dropped, changed)


def funnel_of_counts(n_pairs: int, configs: list[FilterConfig], dropped: Counter, changed: Counter) -> dict:
    """`funnel` from counts of (filter label, reason): pairs dropped, and pairs kept but changed (a build that
    filters chunk by chunk counts its decisions as it goes)."""
    steps = []
    remaining = n_pairs
    for label in filter_labels(configs):
        reasons = {r: c for (f, r), c in sorted(dropped.items()) if f == label}
        n = sum(reasons.values())
        step = {"filter": label, "in": remaining, "dropped": n, "reasons": reasons}
        changes = {r: c for (f, r), c in sorted(changed.items()) if f == label}
        if changes:
            step["changed"] = changes
        steps.append(step)
        remaining -= n
    return {"pairs_in": n_pairs, "steps": steps, "pairs_out": remaining}
