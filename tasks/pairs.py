"""Pairing samples of a prompt and aggregating the judgments of each pair into a `PreferencePair`."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from statistics import mean

from ..schemas.ids import content_id
from ..schemas.preference import Judgment, PreferencePair, Sample
from .sample import judgeable


def candidate_pairs(samples: list[Sample]) -> list[tuple[Sample, Sample]]:
    """All unordered pairs of judgeable samples of the same prompt, in sample order."""
    by_prompt: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        if judgeable(s):
            by_prompt[s.prompt_id].append(s)
    return [pair for group in by_prompt.values() for pair in combinations(group, 2)]


def aggregate(x: Sample, y: Sample, judgments: list[Judgment]) -> PreferencePair:
    """Mean signed margin over parsed judgments decides chosen/rejected; zero (or nothing parsed) is a tie."""
    margins = [m for j in judgments if (m := j.margin_for(x.id)) is not None]
    mean_margin = mean(margins) if margins else 0.0
    tie = mean_margin == 0
    chosen, rejected = (y, x) if mean_margin < 0 else (x, y)
    majority = _sign(mean_margin)
    agreeing = sum(1 for m in margins if _sign(m) == majority)
    ids = tuple(sorted(j.id for j in judgments))
    return PreferencePair(
        id=content_id(x.prompt_id, chosen.id, rejected.id, ids),
        prompt_id=x.prompt_id,
        chosen_id=chosen.id,
        rejected_id=rejected.id,
        margin=abs(mean_margin),
        tie=tie,
        judgment_ids=ids,
        n_judgments=len(judgments),
        n_parsed=len(margins),
        agreement=agreeing / len(margins) if margins else 0.0,
    )


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)
