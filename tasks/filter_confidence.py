"""The `confidence` filter (issue 17): keep a pair when the jury's probability that its chosen response is
better (`PreferencePair.confidence`, from the jury's aggregation) is at least the threshold.

A tie (0.5) is never kept, and a pair without a confidence (no juror voted, or a pair stored before migration
m008) is dropped as unknown, never counted as confident.
"""

from __future__ import annotations

from ..schemas.preference import PreferencePair
from ..schemas.stages import ConfidenceFilter
from .filter_rules import FilterContext


def confidence(cfg: ConfidenceFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    if pair.confidence is None:
        return False, "no confidence (no vote)"
    if pair.tie or pair.confidence <= 0.5:
        return False, "tie"
    if pair.confidence < cfg.min_confidence:
        return False, f"confidence below {cfg.min_confidence:g}"
    return True, "confident"
