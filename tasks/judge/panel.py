"""The judging stage: a jury seated once per build, then rate → select pairs → judge → aggregate, once per pair.

`seat` sets the jury up before any engine call: each juror's judge (tasks/judge/registry.py), its judge name,
the `Jury` that reads its votes, and a check that a fitted aggregation names only jurors of this jury. Then
`judge_samples` (a build: rate, select pairs, judge them) or `judge_given_pairs` (eval-judge: fixed pairs) give
`Verdicts` — every pair's judgments, not yet labelled — which `merge` joins across groups of prompts and
`label` turns into pairs by the configured aggregation, once (a Dawid-Skene fit needs every pair at once).
Requests go through the runtime's `Calls`; imported judgments are given as data, never read here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Callable

from ...schemas.judges import PairingConfig
from ...schemas.preference import Judgment, PreferencePair, Prompt, Sample
from ..pairs import mean_scores, select_pairs
from .base import Calls, Imported, Judge, Pair
from .calibrated import aggregate_pairs
from .jury import Jury, JurorSpec, jury_agreement, votes_for
from .registry import judge_for


class JuryError(ValueError):
    """A jury that cannot run as configured: `field` of the config and what is wrong (no engine was called)."""

    def __init__(self, field: str, problem: str):
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True)
class Panel:
    """The build's jurors, ready to judge: (config, judge, name) each, the `Jury`, the aggregation and the
    imported judgments of the imported jurors."""

    seats: tuple[tuple[Any, Judge, str], ...]
    jury: Jury
    aggregation: Any = None
    imported: Imported | None = None


def seat(jurors: list, calls: Calls | None, aggregation=None, imported: Imported | None = None) -> Panel:
    """The panel of `jurors` (raises `JuryError` when a fitted aggregation names a judge not in the jury)."""
    seats = tuple((cfg, judge_for(cfg), judge_for(cfg).name(cfg, calls)) for cfg in jurors)
    jury = Jury.of([JurorSpec(name, cfg.score_range, cfg.weight, getattr(cfg, "abstain_below", 0.0))
                    for cfg, _, name in seats])
    unknown = sorted(set(getattr(aggregation, "coefficients", {})) - {name for _, _, name in seats})
    if unknown:
        raise JuryError("aggregation.coefficients", f"no juror named {', '.join(map(repr, unknown))} in this jury "
                        f"(jurors: {', '.join(name for _, _, name in seats)})")
    return Panel(seats, jury, aggregation, imported or {})


@dataclass(frozen=True)
class Verdicts:
    """Every pair's judgments, not labelled yet: `by_pair[k]` (ratings included) are about `candidates[k]`."""

    judgments: list[Judgment]
    by_pair: list[list[Judgment]]
    candidates: list[Pair]
    jury: Jury  # how each juror's votes are read (score range, weight): filters re-count with it


@dataclass(frozen=True)
class JuryResult(Verdicts):
    """Verdicts with their pairs (`pairs[k]` from `candidates[k]`), labelled by the panel's aggregation."""

    pairs: list[PreferencePair] = ()


def rate_samples(panel: Panel, prompts: dict[str, Prompt], samples: list[Sample], calls: Calls) -> list[Judgment]:
    """Every rating juror (pointwise) rates every given sample."""
    return [r for cfg, judge, name in panel.seats for r in judge.rate(cfg, name, prompts, samples, calls)]


def judge_pairs(panel: Panel, prompts: dict[str, Prompt], pairs: list[Pair], calls: Calls) -> list[list[Judgment]]:
    """For each pair, the judgments of every pair juror (both orders, debates, imported lines, verifier checks)."""
    out: list[list[Judgment]] = [[] for _ in pairs]
    for cfg, judge, name in panel.seats:
        for k, js in enumerate(judge.judge_pairs(cfg, name, prompts, pairs, calls, panel.imported)):
            out[k].extend(js)
    return out


def judge_samples(panel: Panel, prompts: dict[str, Prompt], samples: list[Sample], pairing: PairingConfig,
                  calls: Calls) -> Verdicts:
    """A build's judging of its samples: rate the rateable ones, select pairs, judge them."""
    groups = Counter(s.prompt_id for s in samples if s.status in ("ok", "truncated"))
    rateable = [s for s in samples if s.status in ("ok", "truncated") and groups[s.prompt_id] > 1]
    ratings = rate_samples(panel, prompts, rateable, calls)
    return judge_given_pairs(panel, prompts, select_pairs(samples, pairing, mean_scores(ratings)), calls, ratings)


def judge_given_pairs(panel: Panel, prompts: dict[str, Prompt], pairs: list[Pair], calls: Calls,
                      ratings: list[Judgment] | None = None) -> Verdicts:
    """Judge fixed pairs (ratings are made here when not given)."""
    if ratings is None:
        ratings = rate_samples(panel, prompts, list({s.id: s for pair in pairs for s in pair}.values()), calls)
    by_sample: dict[str, list[Judgment]] = defaultdict(list)
    for r in ratings:
        by_sample[r.first_id].append(r)
    ordered = judge_pairs(panel, prompts, pairs, calls)
    by_pair = [by_sample[x.id] + by_sample[y.id] + js for (x, y), js in zip(pairs, ordered, strict=True)]
    judgments = ratings + [j for js in ordered for j in js]
    return Verdicts(list({j.id: j for j in judgments}.values()), by_pair, list(pairs), panel.jury)


def judge_in_groups(panel: Panel, prompts: dict[str, Prompt], pairs: list[Pair], calls: Calls,
                    map_groups: Callable | None = None) -> Verdicts:
    """`judge_given_pairs` over all pairs at once, or over groups of pairs that overlap (`map_groups(fn, items)`,
    runtime/overlap.py, with server engines): the same verdicts in the same order either way."""
    if map_groups is None:
        return judge_given_pairs(panel, prompts, pairs, calls)
    return merge(map_groups(lambda group: judge_given_pairs(panel, prompts, list(group), calls), pairs))


def merge(parts: list[Verdicts]) -> Verdicts:
    """The verdicts of disjoint groups of prompts as one, in the order of the groups."""
    judgments = [j for part in parts for j in part.judgments]
    return Verdicts(list({j.id: j for j in judgments}.values()), [b for part in parts for b in part.by_pair],
                    [c for part in parts for c in part.candidates], parts[0].jury if parts else Jury())


def label(verdicts: Verdicts, aggregation=None) -> JuryResult:
    """Each pair's votes aggregated — once — by `aggregation` (default majority: tasks/judge/calibrated.py)."""
    pairs = aggregate_pairs(verdicts.candidates, verdicts.by_pair, verdicts.jury, aggregation)
    return JuryResult(verdicts.judgments, verdicts.by_pair, verdicts.candidates, verdicts.jury, pairs)


def jury_stats(result: Verdicts) -> dict:
    """Status counts per judge and agreement across jurors (Fleiss' κ, Krippendorff's α)."""
    per_judge: dict[str, Counter] = defaultdict(Counter)
    for j in result.judgments:
        per_judge[j.judge][j.status] += 1
    votes = [votes_for(x, y, js, result.jury) for (x, y), js in zip(result.candidates, result.by_pair, strict=True)]
    return {"judges": {name: dict(c) for name, c in sorted(per_judge.items())}, "agreement": jury_agreement(votes)}
