"""Jury aggregation: the votes of every juror on a pair → one `PreferencePair`, and agreement across jurors.

After "Replacing Judges with Juries" (PoLL, Verga et al. 2024): several judges, a majority verdict, and the
spread of their margins. Each parsed judgment of a pair is one vote: a pairwise (or debate, or imported) juror
votes once per order it judged, so a juror that flips with the order disagrees with itself, which is what
position bias is; a pointwise juror votes once, with the difference of its ratings of the two responses.
Pure functions over records.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from statistics import mean, pstdev

from ...schemas.ids import content_id
from ...schemas.preference import Judgment, PreferencePair, Sample
from .agreement import fleiss_kappa, krippendorff_alpha


@dataclass(frozen=True)
class Vote:
    """One juror's vote on pair (x, y). `margin` favours x (None: no verdict); `slot` names the rater for the
    agreement statistics: the juror in one presentation order ("xy": x shown first, "yx") or its "scores".
    """

    judge: str
    slot: str
    margin: float | None
    judgment_ids: tuple[str, ...]


def votes_for(x: Sample, y: Sample, judgments: list[Judgment]) -> list[Vote]:
    """The votes on (x, y) in the judgments of that pair (ordered judgments and both samples' ratings)."""
    out = [
        Vote(j.judge, "xy" if j.first_id == x.id else "yx", j.margin_for(x.id), (j.id,))
        for j in judgments
        if j.second_id is not None
    ]
    ratings: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        if j.second_id is None:
            ratings[j.judge].append(j)
    for judge, rs in sorted(ratings.items()):
        sx, sy = _mean_score(rs, x.id), _mean_score(rs, y.id)
        margin = None if sx is None or sy is None else sx - sy
        out.append(Vote(judge, "scores", margin, tuple(sorted(j.id for j in rs))))
    return out


def _mean_score(ratings: list[Judgment], sample_id: str) -> float | None:
    scores = [j.score_a for j in ratings if j.first_id == sample_id and j.score_a is not None]
    return mean(scores) if scores else None


def majority(margins: list[float]) -> int:
    """The most common winner (+1: x, −1: y, 0: tie); a shared top count (a split) or no votes is a tie."""
    ranked = Counter(_sign(m) for m in margins).most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return 0
    return ranked[0][0]


def aggregate(x: Sample, y: Sample, judgments: list[Judgment], votes: list[Vote] | None = None) -> PreferencePair:
    """Majority decides chosen/rejected (split → tie); μ and σ of the vote margins give strength and spread.

    `votes` may be passed already adjusted (the length-bias filter re-counts some of them).
    """
    votes = votes_for(x, y, judgments) if votes is None else votes
    margins = [v.margin for v in votes if v.margin is not None]
    winner = majority(margins)
    mu = mean(margins) if margins else 0.0
    x_chosen = winner > 0 or (winner == 0 and mu >= 0)
    chosen, rejected = (x, y) if x_chosen else (y, x)
    orient = 1 if x_chosen else -1
    ids = tuple(sorted(j.id for j in judgments))
    return PreferencePair(
        id=content_id(x.prompt_id, chosen.id, rejected.id, ids),
        prompt_id=x.prompt_id,
        chosen_id=chosen.id,
        rejected_id=rejected.id,
        margin=orient * mu + 0.0,  # + 0.0 turns −0.0 into 0.0
        tie=winner == 0,
        judgment_ids=ids,
        n_judgments=len(judgments),
        n_parsed=len(margins),
        agreement=sum(_sign(m) == winner for m in margins) / len(margins) if margins else 0.0,
        margin_std=pstdev(margins) if margins else 0.0,
        chosen_score=_all_scores(judgments, chosen.id),
        rejected_score=_all_scores(judgments, rejected.id),
    )


def _all_scores(judgments: list[Judgment], sample_id: str) -> float | None:
    """Mean of every rating the jury gave this response (pointwise, debate and imported scores alike)."""
    scores = []
    for j in judgments:
        if j.first_id == sample_id and j.score_a is not None:
            scores.append(j.score_a)
        elif j.second_id == sample_id and j.score_b is not None:
            scores.append(j.score_b)
    return mean(scores) if scores else None


def jury_agreement(pair_votes: list[list[Vote]]) -> dict:
    """Agreement across raters (a juror in one order, or its scores) over all pairs.

    Fleiss' κ on the winner (x / tie / y) over the pairs every rater voted on; Krippendorff's α on the winner
    (nominal) and on the margin (interval) over all pairs, missing votes left out (α copes with them).
    """
    raters = sorted({_rater(v) for votes in pair_votes for v in votes})
    units = []
    for votes in pair_votes:
        by_rater = {_rater(v): v.margin for v in votes}
        units.append([by_rater.get(r) for r in raters])
    complete = [[_sign(m) for m in u] for u in units if all(m is not None for m in u)]
    winners = [[None if m is None else _sign(m) for m in u] for u in units]
    return {
        "raters": len(raters),
        "pairs": len(units),
        "complete_pairs": len(complete),
        "fleiss_kappa": _round(fleiss_kappa(complete)) if complete and len(raters) > 1 else None,
        "alpha_nominal": _round(krippendorff_alpha(winners, "nominal")),
        "alpha_interval": _round(krippendorff_alpha(units, "interval")),
    }


def _rater(v: Vote) -> str:
    return f"{v.judge}#{v.slot}"


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)
