"""Pairing samples of a prompt, and aggregating the judgments of each pair into a `PreferencePair`."""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from statistics import mean

from ..schemas.judges import PairingConfig
from ..schemas.preference import Judgment, PreferencePair, Sample
from .judge.jury import Jury
from .judge.jury import aggregate as _jury_aggregate
from .sample import judgeable


def _by_prompt(samples: list[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        if judgeable(s):
            groups[s.prompt_id].append(s)
    return groups


def candidate_pairs(samples: list[Sample]) -> list[tuple[Sample, Sample]]:
    """All unordered pairs of judgeable samples of the same prompt, in sample order."""
    return [pair for group in _by_prompt(samples).values() for pair in combinations(group, 2)]


def mean_scores(ratings: list[Judgment]) -> dict[str, float]:
    """Sample id → mean of its parsed pointwise ratings (over every pointwise juror)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for j in ratings:
        if j.second_id is None and j.score_a is not None:
            scores[j.first_id].append(j.score_a)
    return {sid: mean(v) for sid, v in scores.items()}


def select_pairs(samples: list[Sample], config: PairingConfig, scores: dict[str, float]) -> list[tuple[Sample, Sample]]:
    """The pairs to judge. Ranked strategies use only samples with a score; the best is the first of its pair.

    A sample scoring the same as the best is not paired with it (nothing to prefer). Among equal scores the
    earlier sample ranks first, so the choice is deterministic.
    """
    if config.strategy == "all_pairs":
        return candidate_pairs(samples)
    pairs = []
    for group in _by_prompt(samples).values():
        ranked = sorted((s for s in group if s.id in scores), key=lambda s: -scores[s.id])  # stable: ties keep order
        if not ranked:
            continue
        best = ranked[0]
        lower = [s for s in ranked[1:] if scores[s.id] < scores[best.id]]  # an equal score is no preference
        others = lower[-1:] if config.strategy == "best_vs_worst" else lower
        pairs.extend((best, o) for o in others)
    return pairs


def aggregate(x: Sample, y: Sample, judgments: list[Judgment], jury: Jury | None = None) -> PreferencePair:
    """The jury's pair for (x, y): one vote per juror on −2..2, majority of the vote signs, μ and σ of the votes
    (see tasks/judge/jury.py); `jury` gives score ranges and weights."""
    return _jury_aggregate(x, y, judgments, jury)
