"""The jury's pairs under the configured `aggregation:` (issue 17): each with a label and a confidence.

`majority` pairs come from tasks/judge/jury.py as they are (confidence = the chosen side's vote share).
`dawid_skene` and `fitted` give P(x better) per pair (tasks/judge/dawid_skene.py over all of the build's pairs;
tasks/judge/fitted.py per pair); the pair is then labelled by it: chosen = the side with P > 0.5, confidence =
that P, a tie when P = 0.5 (nothing voted) and no confidence when nothing could be estimated. μ, σ, shares and
`agreement` stay the jury's vote counts, oriented to the new chosen side, so strength and agreement filters
still read the votes. A relabelled pair has its own id (the aggregation and its outcome are part of it).
"""

from __future__ import annotations

from ...schemas.aggregation import AggregationConfig, DawidSkeneAggregation, FittedAggregation
from ...schemas.ids import content_id
from ...schemas.preference import Judgment, PreferencePair, Sample
from .dawid_skene import dawid_skene
from .fitted import probability
from .jury import Jury, aggregate, votes_for


def aggregate_pairs(candidates: list[tuple[Sample, Sample]], by_pair: list[list[Judgment]], jury: Jury,
                    aggregation: AggregationConfig | None = None) -> list[PreferencePair]:
    """One pair per candidate (x, y) from its judgments, labelled by `aggregation` (default: majority)."""
    base = [aggregate(x, y, js, jury) for (x, y), js in zip(candidates, by_pair, strict=True)]
    if aggregation is None or aggregation.kind == "majority":
        return base
    readings = [votes_for(x, y, js, jury) for (x, y), js in zip(candidates, by_pair, strict=True)]
    probs = p_x_all(aggregation, readings)
    return [relabel(p, x, y, prob, aggregation) for p, (x, y), prob in zip(base, candidates, probs, strict=True)]


def p_x_all(aggregation: DawidSkeneAggregation | FittedAggregation, readings: list) -> list[float | None]:
    """P(x better) for every pair's readings under a model aggregation."""
    if isinstance(aggregation, DawidSkeneAggregation):
        return dawid_skene(readings, aggregation.n_iter, aggregation.tol)
    return [probability(aggregation, r) for r in readings]


def relabel(pair: PreferencePair, x: Sample, y: Sample, p_x: float | None,
            aggregation: DawidSkeneAggregation | FittedAggregation) -> PreferencePair:
    """The jury's pair labelled by P(x better) (see the module docstring)."""
    x_was_chosen = pair.chosen_id == x.id
    if p_x is None:
        x_chosen, tie, confidence = x_was_chosen, True, None
    else:
        x_chosen = p_x > 0.5 or (p_x == 0.5 and x_was_chosen)
        tie, confidence = p_x == 0.5, max(p_x, 1.0 - p_x)
    update = {"tie": tie, "confidence": confidence, "aggregation": aggregation.kind}
    if x_chosen != x_was_chosen:
        update.update(chosen_id=pair.rejected_id, rejected_id=pair.chosen_id, margin=-pair.margin + 0.0,
                      chosen_score=pair.rejected_score, rejected_score=pair.chosen_score,
                      chosen_share=pair.rejected_share, rejected_share=pair.chosen_share)
    share = update.get("chosen_share", pair.chosen_share)
    update["agreement"] = 0.0 if tie else (share or 0.0)
    key = aggregation.key() if isinstance(aggregation, FittedAggregation) else aggregation.model_dump()
    update["id"] = content_id(pair.id, aggregation.kind, key, update.get("chosen_id", pair.chosen_id), confidence)
    return pair.model_copy(update=update)
