"""Votes of a jury on one pair, all on one scale: the readings of each juror, and one vote per juror.

A *reading* is what one juror said in one presentation order (a pairwise or debate judgment, an imported line)
or from its ratings of the two responses (a pointwise juror). Every reading is put on the verdict scale −2..2
in favour of response x: a 5-level verdict is its level (A≫B = 2 … B≫A = −2); a score difference is divided by
the juror's score range and doubled, so a full-range difference is ±2 (a 1–10 rubric's 3 vs 10 is
−7/9 × 2 ≈ −1.56); a score difference of unknown range (an imported reward model without a declared range)
keeps only its sign, as a slight preference (±1). A *juror vote* is the mean of the juror's readings (the mean
of each order's readings first, then over orders), so a juror asked in both orders votes once, like a pointwise
juror. A juror abstains (`vote` None: no vote at all, issue 17) when it has no parsed reading, when a score
difference is below its `abstain_below` threshold (a reward model that cannot tell the two apart), or when its
vote is 0 — a tie, or orders that cancel (position bias: "the first one is better" both times says nothing).

Jurors weigh the same unless `JurorSpec.weight` (the juror's `weight:`) says otherwise. The readings stay attached to each juror vote,
so position bias (a juror against itself) and per-order features remain visible to whatever aggregates them.
Pure functions over records.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import mean

from ...schemas.preference import VERDICT_MARGIN, Judgment, Sample

VOTE_MAX = 2.0  # the verdict scale: A>>B = 2 … B>>A = −2
# Names what a pair's margin, σ and agreement are computed from (stored as `pairs.vote_scale`, migration m006).
VOTE_SCALE = "juror_votes_pm2"


@dataclass(frozen=True)
class JurorSpec:
    """How to read one juror's votes: the range of its scores (None: unknown), its weight in the jury, and the
    |score difference| (own units) below which it abstains."""

    judge: str
    score_range: tuple[float, float] | None = None
    weight: float = 1.0
    abstain_below: float = 0.0

    def on_scale(self, difference: float) -> float | None:
        """A score difference on the vote scale: difference / (high − low) × 2, clipped to ±2; unknown range →
        the sign only (±1, a slight preference); None (an abstention) when |difference| < `abstain_below`."""
        if abs(difference) < self.abstain_below:
            return None
        if self.score_range is None:
            return float((difference > 0) - (difference < 0))
        low, high = self.score_range
        return max(-VOTE_MAX, min(VOTE_MAX, difference / (high - low) * VOTE_MAX))


@dataclass(frozen=True)
class Jury:
    """The jurors' specs by judge name; a judge without one reads with `JurorSpec(judge)` (weight 1, no range)."""

    specs: tuple[JurorSpec, ...] = ()

    @classmethod
    def of(cls, specs: list[JurorSpec]) -> Jury:
        return cls(tuple(sorted(specs, key=lambda s: s.judge)))

    def spec(self, judge: str) -> JurorSpec:
        for s in self.specs:
            if s.judge == judge:
                return s
        return JurorSpec(judge)

    def key(self, judges: set[str]) -> list:
        """What of the jury changes these judges' votes (part of a pair's content id)."""
        return [[s.judge, s.score_range, s.weight] + ([s.abstain_below] if s.abstain_below else [])
                for s in self.specs if s.judge in judges]


@dataclass(frozen=True)
class Vote:
    """One reading on pair (x, y). `margin` favours x on the vote scale (None: no verdict); `slot` names the
    reading: the juror in one presentation order ("xy": x shown first, "yx") or its ratings ("scores"). `raw` is
    the score difference for x in the juror's own units when the reading came from scores (None: a verdict) —
    the magnitude a sign-only vote (no declared range) or a clipped one leaves out, kept for fitted juries."""

    judge: str
    slot: str
    margin: float | None
    judgment_ids: tuple[str, ...]
    raw: float | None = None


@dataclass(frozen=True)
class JurorVote:
    """One juror's vote on (x, y): `vote` on −2..2 in favour of x, never 0 (None: it abstains); its `weight`; the
    readings it came from (per order), kept for position-bias checks and for jury models that use them."""

    judge: str
    vote: float | None
    weight: float
    readings: tuple[Vote, ...]


def votes_for(x: Sample, y: Sample, judgments: list[Judgment], jury: Jury | None = None) -> list[Vote]:
    """The readings on (x, y) in the judgments of that pair: one per ordered judgment, one per rating juror."""
    jury = jury or Jury()
    out = [Vote(j.judge, "xy" if j.first_id == x.id else "yx", _ordered_margin(j, x, jury), (j.id,), _raw(j, x))
           for j in judgments if j.second_id is not None]
    ratings: dict[str, list[Judgment]] = defaultdict(list)
    for j in judgments:
        if j.second_id is None:
            ratings[j.judge].append(j)
    for judge, rs in sorted(ratings.items()):
        sx, sy = _mean_score(rs, x.id), _mean_score(rs, y.id)
        margin = None if sx is None or sy is None else jury.spec(judge).on_scale(sx - sy)
        raw = None if sx is None or sy is None else sx - sy
        out.append(Vote(judge, "scores", margin, tuple(sorted(j.id for j in rs)), raw))
    return out


def _raw(j: Judgment, x: Sample) -> float | None:
    """An ordered judgment's score difference for x in its own units (None for a verdict or missing scores)."""
    if j.verdict is not None or j.score_a is None or j.score_b is None:
        return None
    return j.score_a - j.score_b if j.first_id == x.id else j.score_b - j.score_a


def _ordered_margin(j: Judgment, x: Sample, jury: Jury) -> float | None:
    """A verdict keeps its level; two scores (debate means, imported) go through the juror's range."""
    if j.verdict is not None:
        level = float(VERDICT_MARGIN[j.verdict])
    elif j.score_a is not None and j.score_b is not None:
        scaled = jury.spec(j.judge).on_scale(j.score_a - j.score_b)
        if scaled is None:
            return None
        level = scaled
    else:
        return None
    return level if j.first_id == x.id else -level


def _mean_score(ratings: list[Judgment], sample_id: str) -> float | None:
    scores = [j.score_a for j in ratings if j.first_id == sample_id and j.score_a is not None]
    return mean(scores) if scores else None


def by_juror(readings: list[Vote], jury: Jury | None = None) -> list[JurorVote]:
    """One vote per juror (sorted by judge): the mean over its orders of each order's mean reading; a mean of 0
    (a tie, cancelling orders) or no reading is an abstention (None)."""
    jury = jury or Jury()
    grouped: dict[str, list[Vote]] = defaultdict(list)
    for v in readings:
        grouped[v.judge].append(v)
    out = []
    for judge, vs in sorted(grouped.items()):
        per_slot: dict[str, list[float]] = defaultdict(list)
        for v in vs:
            if v.margin is not None:
                per_slot[v.slot].append(v.margin)
        vote = mean(mean(ms) for ms in per_slot.values()) if per_slot else None
        vote = None if vote == 0 else vote  # no preference is no vote (issue 17 item 6)
        out.append(JurorVote(judge, vote, jury.spec(judge).weight, tuple(vs)))
    return out


def juror_votes(x: Sample, y: Sample, judgments: list[Judgment], jury: Jury | None = None) -> list[JurorVote]:
    """The jury's votes on (x, y): one per juror, on −2..2 in favour of x (see the module docstring)."""
    return by_juror(votes_for(x, y, judgments, jury), jury)
