"""Judge evaluation against gold labels: per judge, per protocol and for the whole jury.

Accuracy follows the double-order rule of JudgeBench / RewardBench-style pairwise evaluation: every vote on an
item scores +1 when it agrees with the gold label, −1 when it contradicts it, 0 for a tie or no verdict; the
item is correct iff the sum is positive (a judge that flips with the order scores 0: not correct). Also:
swap inconsistency, parse errors, how often the longer response wins (length bias, Dubois et al. 2024), Cohen's
κ against gold, accuracy by source, and coverage / accuracy after each filter (what a filter buys in precision
and costs in pairs). Pure: the flow runs the judges.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...schemas.preference import Judgment, Prompt, Sample
from ...schemas.stages import FilterConfig
from ..filters import FilterContext, filter_labels, filter_pairs
from .agreement import cohen_kappa
from .calibrated import aggregate_pairs
from .jury import Jury, Vote, votes_for
from .panel import Verdicts


@dataclass(frozen=True)
class GoldItem:
    prompt: Prompt
    a: Sample  # the gold file's response_a
    b: Sample
    label: str  # "A>B" or "B>A"
    source: str

    @property
    def winner(self) -> Sample:
        return self.a if self.label == "A>B" else self.b


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


def _terms(item: GoldItem, votes: list[Vote]) -> list[int]:
    gold = 1 if item.label == "A>B" else -1
    return [0 if v.margin is None else _sign(v.margin) * gold for v in votes]


def _prediction(terms: list[int], gold: str) -> str:
    """The group's label for the item: the gold label if the vote sum agrees, the other one if it contradicts."""
    total = sum(terms)
    other = "B>A" if gold == "A>B" else "A>B"
    return gold if total > 0 else other if total < 0 else "tie"


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def _swap_inconsistency(item_votes: list[list[Vote]]) -> float | None:
    """Among (judge, item) read in both orders: the share whose two winners differ. Each order is read the way
    the jury reads it (`votes_for`: verdicts, score ranges, `abstain_below`): an unparsed or failed order, or an
    abstention, is unknown and leaves that judge's item out (as the position-swap filter does)."""
    both = flips = 0
    for votes in item_votes:
        by_judge: dict[str, dict[str, int]] = defaultdict(dict)
        for v in votes:
            if v.slot in ("xy", "yx") and v.margin is not None:
                by_judge[v.judge][v.slot] = _sign(v.margin)  # the last reading of an order, as the jury's
        for orders in by_judge.values():
            if len(orders) == 2:
                both += 1
                flips += len(set(orders.values())) > 1
    return _rate(flips, both)


def _longer_wins(items: list[GoldItem], votes: list[list[Vote]]) -> float | None:
    longer = decided = 0
    for item, vs in zip(items, votes, strict=True):
        if len(item.a.text) == len(item.b.text):
            continue
        a_longer = len(item.a.text) > len(item.b.text)
        for v in vs:
            if v.margin:
                decided += 1
                longer += (v.margin > 0) == a_longer
    return _rate(longer, decided)


def gold_longer_wins(items: list[GoldItem]) -> float | None:
    """How often the gold label itself prefers the longer response: the baseline for a judge's length bias."""
    unequal = [i for i in items if len(i.a.text) != len(i.b.text)]
    return _rate(sum(len(i.winner.text) == max(len(i.a.text), len(i.b.text)) for i in unequal), len(unequal))


def evaluate_group(name: str, protocol: str, jurors: int, items: list[GoldItem], judgments: list[list[Judgment]],
                   filters: list[FilterConfig], jury: Jury | None = None, aggregation=None) -> dict:
    """All metrics for one judge (or one set of jurors) over the gold items; `judgments[k]` belong to items[k].
    `jury` gives the jurors' score ranges and weights, `aggregation` how the filter curve labels the pairs
    (default majority)."""
    votes = [votes_for(i.a, i.b, js, jury) for i, js in zip(items, judgments, strict=True)]
    terms = [_terms(i, vs) for i, vs in zip(items, votes, strict=True)]
    correct = [sum(t) > 0 for t in terms]
    flat = [j for js in judgments for j in js]
    predictions = [_prediction(t, i.label) for t, i in zip(terms, items, strict=True)]
    by_source: dict[str, list[bool]] = defaultdict(list)
    for item, ok in zip(items, correct, strict=True):
        by_source[item.source].append(ok)
    kappa = cohen_kappa(predictions, [i.label for i in items])
    return {
        "group": name,
        "protocol": protocol,
        "jurors": jurors,
        "items": len(items),
        "accuracy": _rate(sum(correct), len(items)),
        "swap_inconsistency": _swap_inconsistency(votes),
        "parse_error_rate": _rate(sum(j.status == "parse_error" for j in flat), len(flat)),
        "error_rate": _rate(sum(j.status == "error" for j in flat), len(flat)),
        "longer_wins": _longer_wins(items, votes),
        "cohen_kappa": None if kappa is None else round(kappa, 4),
        "by_source": {s: {"items": len(v), "accuracy": _rate(sum(v), len(v))} for s, v in sorted(by_source.items())},
        "filters": filter_curve(items, judgments, filters, jury, aggregation),
    }


def filter_curve(items: list[GoldItem], judgments: list[list[Judgment]], filters: list[FilterConfig],
                 jury: Jury | None = None, aggregation=None) -> list[dict]:
    """Coverage (pairs kept / items) and accuracy of the kept pairs' chosen response, before and after each filter
    (pairs labelled by `aggregation`, as a build would)."""
    jury = jury or Jury()
    pairs = aggregate_pairs([(i.a, i.b) for i in items], judgments, jury, aggregation)
    gold_by_pair = {p.id: i for p, i in zip(pairs, items, strict=True)}
    ctx = FilterContext(
        judgments={j.id: j for js in judgments for j in js},
        samples={s.id: s for i in items for s in (i.a, i.b)},
        prompts={i.prompt.id: i.prompt for i in items},
        jury=jury,
    )
    rows = [_curve_row("(none)", pairs, gold_by_pair, len(items))]
    for k, label in enumerate(filter_labels(filters), start=1):
        run = filter_pairs(pairs, filters[:k], ctx)
        rows.append(_curve_row(label, run.kept, gold_by_pair, len(items)))
    return rows


def _curve_row(label: str, kept: list, gold_by_pair: dict[str, GoldItem], n: int) -> dict:
    right = 0
    for p in kept:
        item = gold_by_pair[p.derived_from or p.id]
        right += not p.tie and p.chosen_id == item.winner.id
    return {"filter": label, "kept": len(kept), "coverage": _rate(len(kept), n), "accuracy": _rate(right, len(kept))}


def _groups(config, names: list[str]) -> list[tuple[str, str, list[str]]]:
    """(group name, protocol, judge names): each juror, each protocol with several jurors, and the whole jury."""
    pairs = enumerate(zip(names, config.jurors, strict=True), start=1)
    groups = [(f"juror {k}", juror.kind, [name]) for k, (name, juror) in pairs]
    kinds = [j.kind for j in config.jurors]
    for kind in dict.fromkeys(kinds):
        if 1 < kinds.count(kind) < len(kinds):
            groups.append((f"{kind} jurors", kind, [n for n, k in zip(names, kinds, strict=True) if k == kind]))
    if len(names) > 1:
        groups.append(("jury", "jury", names))
    return groups


def gold_report(config, items: list[GoldItem], result: Verdicts, names: list[str]) -> dict:
    """eval-judge's figures per group of jurors (`_groups`) on the gold items, the gold sources and how often the
    longer response is the gold one. `config` has `jurors`, `filters` and `aggregation` (a judge-eval config)."""
    rows = []
    for group, protocol, members in _groups(config, names):
        chosen = set(members)
        judgments = [[j for j in js if j.judge in chosen] for js in result.by_pair]
        whole = set(members) == set(names)  # the configured aggregation is about the whole jury
        rows.append({**evaluate_group(group, protocol, len(members), items, judgments, config.filters, result.jury,
                                      config.aggregation if whole else None), "judges": members})
    sources = sorted({i.source for i in items})
    return {"items": len(items), "sources": sources, "gold_longer_wins": gold_longer_wins(items), "groups": rows}
