"""The pair filters that read the jury's judgments: pure functions of (config, pair, context) → keep + reason.

A filter returns `(keep, reason)`, or an `Outcome` when it keeps a changed pair (a label flip or a re-count):
the change is a new `PreferencePair` record whose `derived_from` names the jury's pair. Reasons are categories
(no per-pair numbers) so the build summary can count them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schemas.ids import content_id
from ..schemas.preference import Judgment, PreferencePair, Prompt, Sample
from ..schemas.stages import AgreementFilter, LengthBiasFilter, StrengthFilter
from .judge.jury import Jury, Vote, aggregate, juror_votes, tally, votes_for
from .judge.verifier import verifier_backs


@dataclass(frozen=True)
class FilterContext:
    """What filters may look at besides the pair. The flow fills it; dataset-level filters add prepared maps."""

    judgments: dict[str, Judgment]
    samples: dict[str, Sample]
    prompts: dict[str, Prompt] = field(default_factory=dict)
    all_pairs: tuple[PreferencePair, ...] = ()  # every pair of this build as the jury made it
    parent_pairs: tuple[PreferencePair, ...] | None = None  # the parent version's pairs; None: no parent version
    duplicate_prompts: frozenset[str] = frozenset()  # prepared by near_duplicate_prompt
    taus: dict[str, float | None] = field(default_factory=dict)  # prepared by rank_consistency
    jury: Jury = field(default_factory=Jury)  # the jurors' score ranges and weights (how votes are read)


@dataclass(frozen=True)
class Outcome:
    keep: bool
    reason: str
    pair: PreferencePair | None = None  # the changed pair that goes on instead of the input one


def derive(pair: PreferencePair, tag: str, **changes) -> PreferencePair:
    """A changed copy of `pair` with its own content id; `derived_from` always names the jury's original pair."""
    origin = pair.derived_from or pair.id
    new_id = content_id(pair.id, tag, sorted(changes.items()))
    return pair.model_copy(update={**changes, "id": new_id, "derived_from": origin})


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def position_swap(pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Keep iff every juror that judged both orders names the same winner (or a tie) in both.

    Position bias is the best-documented failure of LLM judges (Zheng et al. 2023, MT-Bench; Wang et al. 2023,
    "Large Language Models are not Fair Evaluators"). Jurors with a failed order are not checked, nor are jurors
    that abstained in an order the way the jury reads them (a score difference below the juror's `abstain_below`):
    an abstention is unknown, neither a flip nor a consistent order. At least one juror must be checked;
    pointwise ratings have no order and pass.

    A pair whose chosen response a verifier juror checked correct, against a wrong rejected one, passes: its
    label stands on the checked answers, which no presentation order changes, so an LLM juror's flip there is
    that juror's position bias (the build summary measures it against the verifier), not doubt about the label.
    """
    if verifier_backs(pair, ctx.judgments):
        return True, "decided by the verifier (no order to swap)"
    ordered = [ctx.judgments[j] for j in pair.judgment_ids if ctx.judgments[j].second_id is not None]
    if not ordered:
        return True, "no order to swap (pointwise scores)"
    signs = _order_signs(pair, ordered, ctx)
    by_judge: dict[str, list[Judgment]] = {}
    for j in ordered:
        by_judge.setdefault(j.judge, []).append(j)
    checked, failure = 0, None
    for js in by_judge.values():
        if len({j.first_id for j in js}) < 2:
            continue
        failed = [j for j in js if j.status != "ok"]
        if failed:
            failure = failure or failed[0].status
            continue
        if any(signs[j.id] is None for j in js):  # abstained in an order: unknown, neither a flip nor a check
            failure = failure or "abstained"
            continue
        if len({signs[j.id] for j in js}) > 1:
            return False, "verdict flips when the order is swapped"
        checked += 1
    if checked:
        return True, "same winner in both orders"
    if failure:
        return False, f"no verdict in one order ({failure})"
    return False, "judged in one order only"


def _order_signs(pair: PreferencePair, ordered: list[Judgment], ctx: FilterContext) -> dict[str, int | None]:
    """Each ordered judgment's side (+1 chosen, 0 tie, −1 rejected) read the way the jury reads it (votes_for:
    score range and `abstain_below`), so a reading the jury takes for an abstention is None (unknown) here too."""
    x, y = ctx.samples[pair.chosen_id], ctx.samples[pair.rejected_id]
    return {v.judgment_ids[0]: None if v.margin is None else _sign(v.margin)
            for v in votes_for(x, y, ordered, ctx.jury)}


def drop_ties(pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Drop pairs with no preference (majority tie, or no parsed verdict)."""
    if pair.tie:
        return False, "tie" if pair.n_parsed else "no parsed verdict"
    return True, "has a winner"


def agreement(cfg: AgreementFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str]:
    """Keep pairs whose `agreement` — the share of jurors whose vote is for the pair's label — is at least q: the
    consensus filter for a jury of judges (PoLL: Verga et al. 2024, "Replacing Judges with Juries").
    """
    if pair.n_parsed == 0:
        return False, "no parsed verdict"
    if pair.agreement < cfg.min_agreement:
        return False, f"agreement below {cfg.min_agreement}"
    return True, "jury agrees"


def strength(cfg: StrengthFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str] | Outcome:
    """Secrets of RLHF II (Wang et al. 2024, "Secrets of RLHF in Large Language Models Part II: Reward Modeling"):
    preference strength μ = the jury's mean vote (−2..2) for the chosen response, σ = its spread across jurors.
    Keep |μ| ≥ τ and σ ≤ s; when μ ≤ −τ the label is probably wrong: flip it if asked, else drop the pair.

    A flipped pair is labelled by μ, not by the majority: its `agreement` becomes the share of jurors for the
    new chosen response (the old `rejected_share`), the shares swap, and it is no tie (μ ≠ 0).
    """
    mu, tau = pair.margin, cfg.min_strength
    if pair.n_parsed == 0:
        return False, "no parsed verdict"
    if cfg.max_std is not None and pair.margin_std > cfg.max_std:
        return False, f"margins spread more than {cfg.max_std}"
    if mu < 0 and mu <= -tau:
        if not cfg.flip:
            return False, "mean margin favours the rejected response"
        return Outcome(True, "label flipped (mean margin favours the rejected response)", _flipped(pair, ctx))
    if abs(mu) < tau:
        return False, f"weak preference (|mean margin| below {tau})"
    return True, "strong preference"


def _flipped(pair: PreferencePair, ctx: FilterContext) -> PreferencePair:
    for_chosen, for_rejected = pair.chosen_share, pair.rejected_share
    if for_chosen is None or for_rejected is None:  # a pair made without shares: count the jury's votes again
        x, y = ctx.samples[pair.chosen_id], ctx.samples[pair.rejected_id]
        t = tally(juror_votes(x, y, [ctx.judgments[j] for j in pair.judgment_ids], ctx.jury))
        for_chosen, for_rejected = t.share_x, t.share_y
    confidence = None if pair.confidence is None else 1.0 - pair.confidence  # the jury's P for the new chosen
    return derive(pair, "flip", chosen_id=pair.rejected_id, rejected_id=pair.chosen_id, margin=-pair.margin,
                  chosen_score=pair.rejected_score, rejected_score=pair.chosen_score, tie=False,
                  agreement=for_rejected, chosen_share=for_rejected, rejected_share=for_chosen, confidence=confidence)


def length_bias(cfg: LengthBiasFilter, pair: PreferencePair, ctx: FilterContext) -> tuple[bool, str] | Outcome:
    """WildBench (Lin et al. 2024): a "slightly better" verdict (A>B / B>A) for a response more than K characters
    longer than the other counts as a tie. The jury's votes are re-counted; a pair that becomes a tie is dropped.
    Score votes have no "slightly" level and are left alone.

    The re-count decides the label, whatever an earlier filter did to the pair (a flip included): the result
    is the same as on the jury's own pair, so it does not depend on the filters' order; only a down-weight
    (`weight`, `consistency`) carries over.
    """
    x, y = ctx.samples[pair.chosen_id], ctx.samples[pair.rejected_id]
    judgments = [ctx.judgments[j] for j in pair.judgment_ids]
    votes = votes_for(x, y, judgments, ctx.jury)
    adjusted = [_length_checked(v, x, y, ctx, cfg.max_chars) for v in votes]
    if adjusted == votes:
        return True, "no slight win by a much longer response"
    recount = aggregate(x, y, judgments, ctx.jury, adjusted)
    if recount.tie:
        return False, f"slight win by a response over {cfg.max_chars} characters longer counts as a tie"
    changed = derive(pair, "length_bias", **{k: getattr(recount, k) for k in _RECOUNT_FIELDS})
    return Outcome(True, "re-counted: slight wins of much longer responses as ties", changed)


# The re-count is a majority count: it brings its own confidence (the vote share) and says so in `aggregation`.
_RECOUNT_FIELDS = ("chosen_id", "rejected_id", "margin", "tie", "n_parsed", "agreement", "margin_std",
                   "chosen_score", "rejected_score", "chosen_share", "rejected_share", "confidence", "aggregation")


def _length_checked(v: Vote, x: Sample, y: Sample, ctx: FilterContext, max_chars: int) -> Vote:
    verdicts = [ctx.judgments[j].verdict for j in v.judgment_ids]
    if v.margin is None or abs(v.margin) != 1 or not all(verdict in ("A>B", "B>A") for verdict in verdicts):
        return v
    winner, loser = (x, y) if v.margin > 0 else (y, x)
    if len(winner.text) - len(loser.text) > max_chars:
        return Vote(v.judge, v.slot, 0.0, v.judgment_ids)
    return v
