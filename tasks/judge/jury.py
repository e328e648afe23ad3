"""Jury aggregation: the jurors' votes on a pair → one `PreferencePair`, and agreement across jurors.

After "Replacing Judges with Juries" (PoLL, Verga et al. 2024): several judges, a majority verdict, and the
spread of their votes. Every juror casts one vote on the scale −2..2 (tasks/judge/votes.py: a pairwise or debate
juror's orders are averaged into one vote, a rating difference is scaled by the juror's score range, a juror
abstains — is no vote — with no parsed reading, a tie, cancelling orders or a score difference below its
threshold). Jurors weigh the same unless their `JurorSpec` (the juror's `weight:`) gives a weight.

- the label: the weighted majority of the vote *signs* (for x, tie, for y); a shared top weight (a split) is a
  tie, and a tie's chosen/rejected follow the sign of μ (x at 0);
- `margin` = μ, the weighted mean vote for the chosen response (negative when the majority and μ disagree);
  `margin_std` = σ, the weighted population std of the votes;
- `chosen_share` / `rejected_share`: weighted shares of the voting jurors for each side;
  `agreement`: the share of the voters for the chosen side (0 for a tie: abstentions are not tie votes);
- `confidence` (aggregation "majority"): the chosen side's weighted vote share (0.5 for a split; None with no
  voter). Other aggregations relabel these pairs (tasks/judge/calibrated.py).
Pure functions over records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from math import sqrt
from statistics import mean

from ...schemas.ids import content_id
from ...schemas.preference import Judgment, PreferencePair, Sample
from .agreement import fleiss_kappa, krippendorff_alpha
from .votes import VOTE_SCALE, JurorSpec, JurorVote, Jury, Vote, by_juror, juror_votes, votes_for

COUNT_RULE = "abstain-v1"  # ties, cancelling orders and sub-threshold scores abstain (issue 17 item 6)

__all__ = ["Jury", "JurorSpec", "JurorVote", "Tally", "Vote", "aggregate", "jury_agreement", "juror_votes",
           "majority", "tally", "votes_for"]


def majority(margins: list[float], weights: list[float] | None = None) -> int:
    """The winner with the most (weighted) votes (+1: x, −1: y, 0: tie); a shared top (a split) or no votes is a tie."""
    counts: Counter = Counter()
    for m, w in zip(margins, weights or [1.0] * len(margins), strict=True):
        counts[_sign(m)] += w
    ranked = counts.most_common()
    if not ranked or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
        return 0
    return ranked[0][0]


@dataclass(frozen=True)
class Tally:
    """The jury's count on (x, y): `winner` (+1 x, 0 tie, −1 y), μ and σ of the votes for x, and the weighted
    shares of the voting jurors for x and for y (a vote is never 0 — no preference abstains — so they add up
    to 1 when anyone voted)."""

    winner: int
    mu: float
    sigma: float
    share_x: float
    share_y: float


def tally(votes: list[JurorVote]) -> Tally:
    """Count the jurors that did not abstain, each with its weight (no voter at all: a tie with μ = σ = 0)."""
    cast = [(v.vote, v.weight) for v in votes if v.vote is not None and v.weight > 0]
    total = sum(w for _, w in cast)
    if not cast or total == 0:
        return Tally(0, 0.0, 0.0, 0.0, 0.0)
    mu = sum(v * w for v, w in cast) / total
    sigma = sqrt(sum(w * (v - mu) ** 2 for v, w in cast) / total)

    def share(side: int) -> float:
        return sum(w for v, w in cast if _sign(v) == side) / total

    winner = majority([v for v, _ in cast], [w for _, w in cast])
    return Tally(winner, mu, sigma, share(1), share(-1))


def aggregate(x: Sample, y: Sample, judgments: list[Judgment], jury: Jury | None = None,
              readings: list[Vote] | None = None) -> PreferencePair:
    """The jury's pair for (x, y) (see the module docstring). `readings` may be passed already adjusted (the
    length-bias filter re-counts some of them); `jury` gives score ranges and weights (default: none, weight 1).
    """
    jury = jury or Jury()
    readings = votes_for(x, y, judgments, jury) if readings is None else readings
    t = tally(by_juror(readings, jury))
    x_chosen = t.winner > 0 or (t.winner == 0 and t.mu >= 0)
    chosen, rejected = (x, y) if x_chosen else (y, x)
    orient = 1 if x_chosen else -1
    share_chosen, share_rejected = (t.share_x, t.share_y) if x_chosen else (t.share_y, t.share_x)
    ids = tuple(sorted(j.id for j in judgments))
    # COUNT_RULE: abstentions (issue 17) changed what a pair counts; a new id keeps older rows as they were.
    scale = [VOTE_SCALE, COUNT_RULE, jury.key({j.judge for j in judgments})]
    voted = t.share_x + t.share_y > 0
    return PreferencePair(
        id=content_id(scale, x.prompt_id, chosen.id, rejected.id, ids),
        prompt_id=x.prompt_id,
        chosen_id=chosen.id,
        rejected_id=rejected.id,
        margin=orient * t.mu + 0.0,  # + 0.0 turns −0.0 into 0.0
        tie=t.winner == 0,
        judgment_ids=ids,
        n_judgments=len(judgments),
        n_parsed=sum(v.margin is not None for v in readings),
        agreement=0.0 if t.winner == 0 else share_chosen,  # a tie has no supporters: ties abstain
        margin_std=t.sigma,
        chosen_score=_all_scores(judgments, chosen.id),
        rejected_score=_all_scores(judgments, rejected.id),
        vote_scale=VOTE_SCALE,
        chosen_share=share_chosen,
        rejected_share=share_rejected,
        confidence=(0.5 if t.winner == 0 else share_chosen) if voted else None,
        aggregation="majority",
    )


def _all_scores(judgments: list[Judgment], sample_id: str) -> float | None:
    """Mean of every score the jury gave this response in the pair's judgments — pointwise ratings, debate
    scores, imported scores and a verifier's 1/0 alike — each in its juror's own units, never rescaled.

    Known limitation (docs/judging.md): meaningful only when every scoring juror scores on one scale. A jury
    that mixes scales averages across them (a verifier's 1/0 with a 1–10 rubric's 9 and 7 gives 5.0 and 3.5),
    and a juror that failed on a pair drops out of that pair's mean only. Not rescaled here because nothing
    stores a rating's scale (m006's `vote_scale` names the vote's) and pair ids do not depend on ratings, so a
    new rule would leave pairs already stored under the same ids (INSERT OR IGNORE) with the old values."""
    scores = []
    for j in judgments:
        if j.first_id == sample_id and j.score_a is not None:
            scores.append(j.score_a)
        elif j.second_id == sample_id and j.score_b is not None:
            scores.append(j.score_b)
    return mean(scores) if scores else None


def jury_agreement(pair_votes: list[list[Vote]]) -> dict:
    """Agreement across raters (a juror in one order, or its scores: one reading each) over all pairs.

    Fleiss' κ on the winner (x / tie / y) over the pairs every rater voted on; Krippendorff's α on the winner
    (nominal) and on the reading's vote (interval, −2..2) over all pairs, missing votes left out (α copes with them).
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
