"""The rationale stage item by item: show each input, sample K judgments, decide the reference, make its records.

The per-item loop of `prefsynth rationalize` (flows/rationalize.py), over the pure rules of tasks/rationalize.py
(Trivedi et al. 2024, "Self-rationalization improves LLM as a fine-grained judge"). Half the items of each known
reference side are shown with their responses swapped (`order: balanced`, recorded per item); every sample is a
vote; cut or re-asked replies are never chosen nor the SFT target. Judging requests go through the runtime's
`Calls`; when every engine streams (a server) groups of items overlap (runtime/overlap.py `map_groups` is passed
in as `map_groups`), with the same records in the same order either way. No storage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from statistics import mean
from typing import Any, Callable

from ..schemas.engine import GenResult
from ..schemas.ids import content_id
from ..schemas.imported import imported_sample
from ..schemas.preference import Judgment, Prompt
from ..schemas.rationale import RationaleInput, RationaleItem, RationalePair
from .judge import single
from .judge.base import Calls
from .judge.parse import parse_pairwise
from .rationalize import (Reference, as_shown, best_rationale, consensus, distinct, presentation_order,
                          rationale_pairs, split_right_wrong, target_problem, verifier_reference)


@dataclass(frozen=True)
class Shown:
    """One input as the judge sees it: `item.first` is shown as A (the input's response_b when `swapped`);
    `known` is its gold or verifier reference in the input's order (None: the judgments decide)."""

    input: RationaleInput
    item: single.PairwiseItem
    swapped: bool
    known: Reference | None


@dataclass(frozen=True)
class Sampled:
    """The K judgments of one item, one per sample (identical samples repeat: each is a vote), and the ids of
    those that were cut at max_tokens or needed the re-ask."""

    judgments: list[Judgment]
    incomplete: frozenset[str]


@dataclass(frozen=True)
class Made:
    """One item's records and what it counts: its reference, right and wrong votes (per sample), its pairs, and
    why it has no chosen/SFT target when it agreed only through incomplete judgments (None otherwise)."""

    item: RationaleItem
    ref: Reference
    right: list[Judgment]
    wrong: list[Judgment]
    pairs: list[RationalePair]
    no_target: str | None


def show(config: Any, inputs: list[RationaleInput], checker) -> list[Shown]:
    """The items in the order the judge sees them, balanced per known reference side (`config.order`)."""
    prompts = {i.prompt_id: Prompt.of(i.prompt_text, i.source) for i in inputs}
    known = [known_reference(config, inp, checker) for inp in inputs]
    out = []
    for inp, ref, swapped in zip(inputs, known, presentation_order([r and r.winner for r in known], config.order),
                                 strict=True):
        a, b = (imported_sample(inp.prompt_id, text) for text in (inp.response_a, inp.response_b))
        pit = single.PairwiseItem(prompts[inp.prompt_id], *((b, a) if swapped else (a, b)))
        out.append(Shown(inp, pit, swapped, ref))
    return out


def known_reference(config: Any, item: RationaleInput, checker) -> Reference | None:
    """The gold label's or the verifier's reference, in the input's order; None when the judgments decide.

    In `auto` mode a verifier that cannot decide (both answers right, both wrong, an unknown check) is no
    reference, so the item goes on to the consensus like an item without a gold_answer (DESIGN §5: the gold
    label or the consensus; the verifier is the gold of math items); `verifier` mode leaves it with none."""
    mode = config.reference
    if mode in ("auto", "gold") and item.label:
        return Reference("A" if item.label == "A>B" else "B", "gold")
    if mode in ("auto", "verifier") and item.gold_answer is not None:
        a, b = (checker.check(text, item.gold_answer) for text in (item.response_a, item.response_b))
        ref = verifier_reference(_correct(a.status), _correct(b.status))
        if ref.winner is not None or mode == "verifier":
            return ref
    return None


def _correct(status: str) -> bool | None:
    return {"correct": True, "incorrect": False, "unparseable": False}.get(status)


def sample_all(config: Any, shown: list[Shown], calls: Calls, map_groups: Callable | None = None) -> list[Sampled]:
    """Every item's K judgments, in the order of `shown`: in one pass, or in overlapping groups through
    `map_groups(fn, items)` (each group sends its re-asks as soon as its first replies are in)."""
    items = [s.item for s in shown]
    if map_groups is None:
        return sample_judgments(config, items, calls)
    return [s for part in map_groups(lambda group: sample_judgments(config, list(group), calls), items) for s in part]


def sample_judgments(config: Any, pitems: list[single.PairwiseItem], calls: Calls) -> list[Sampled]:
    """K judgments per item from one request with n=K; replies without a verdict get one constrained re-ask."""
    cfg = config.judge
    requests = [single.first_request(cfg, it).model_copy(update={"n": config.k}) for it in pitems]
    results = calls.run(cfg.engine, requests, stage=f"judge ×{config.k}")
    # One reply per completion; a failed call stays one error reply (it becomes one `error` judgment).
    replies = [[GenResult(completions=[c]) for c in r.completions] if r.ok and r.completions else [r] for r in results]
    todo = [(i, j) for i, rs in enumerate(replies) for j, r in enumerate(rs)
            if cfg.reask and r.ok and parse_pairwise(r.completions[0].text).verdict is None]
    reask_requests = [single.reask_request(cfg, requests[i], replies[i][j].completions[0].text) for i, j in todo]
    reasks = dict(zip(todo, calls.run(cfg.engine, reask_requests, stage="judge · re-ask"), strict=True))
    judge = single.judge_name(calls.engine_name(cfg.engine), cfg)
    out = []
    for i, rs in enumerate(replies):
        judgments = [single.to_judgment(judge, pitems[i], r, reasks.get((i, j))) for j, r in enumerate(rs)]
        cut = {jd.id for jd, r in zip(judgments, rs, strict=True)
               if jd.reasked or (r.completions and r.completions[0].finish_reason == "length")}
        out.append(Sampled(judgments, frozenset(cut)))
    return out


def reference_for(config: Any, shown: Shown, judgments: list[Judgment]) -> Reference:
    """The side that should win, in the order shown: a known reference restated for that order, else the
    consensus of the judgments (which already speak in the order shown)."""
    if shown.known is not None:
        return as_shown(shown.known, shown.swapped)
    if config.reference in ("auto", "consensus"):
        return consensus(judgments, config.min_consensus_margin)
    return Reference(None, "none")


def make_item(config: Any, shown: Shown, sampled: Sampled) -> Made:
    """The stored item — its K votes (`sample_ids`), the distinct judgments, the right ones and the SFT pick —
    and its rationale pairs. An item that agreed only through incomplete judgments has no pick and no pair, and
    an id of its own (older versions stored such items with an incomplete pick under the plain id)."""
    pit, judgments = shown.item, sampled.judgments
    ref = reference_for(config, shown, judgments)
    right, wrong = split_right_wrong(judgments, ref)  # per sample: the agreement counts votes
    best = best_rationale(right, sampled.incomplete)
    problem = target_problem(right, sampled.incomplete)
    samples = tuple(j.id for j in judgments)
    key = [pit.prompt.id, pit.first.id, pit.second.id, sorted(samples), ref.winner, ref.source, shown.swapped]
    item = RationaleItem(
        id=content_id("rationale-item", *key, *([problem] if problem else [])),
        prompt_id=pit.prompt.id, response_a_id=pit.first.id, response_b_id=pit.second.id,
        judge=judgments[0].judge if judgments else "",
        judging_messages=single.first_request(config.judge, pit).messages, reference=ref.winner,
        reference_source=ref.source, judgment_ids=tuple(j.id for j in distinct(judgments)),
        right_ids=tuple(j.id for j in distinct(right)), best_id=best.id if best else None, swapped=shown.swapped,
        sample_ids=samples, incomplete_ids=tuple(sorted(sampled.incomplete)),
    )
    pairs = rationale_pairs(item.id, right, wrong, config.max_pairs_per_item, sampled.incomplete)
    return Made(item, ref, right, wrong, pairs, problem)


def rationale_figures(config: Any, made: list[Made], sampled: list[Sampled]) -> dict:
    """The build's figures (schemas/stats.py `RationaleStats`), counted per sample (K per item: identical samples
    each count), as the consensus and agreement use them; `no_target` only when some item has none."""
    with_ref = [m for m in made if m.ref.winner]
    agreement = [len(m.right) / (len(m.right) + len(m.wrong)) for m in with_ref if m.right or m.wrong]
    judgments = [j for s in sampled for j in s.judgments]
    no_target = Counter(m.no_target for m in made if m.no_target)
    return {
        "items": len(made),
        "judge": made[0].item.judge if made else None,
        "k": config.k,
        "swapped_items": sum(m.item.swapped for m in made),
        "judgments": dict(Counter(j.status for j in judgments)),
        "reasked": sum(j.reasked for j in judgments),
        "incomplete": sum(j.id in s.incomplete for s in sampled for j in s.judgments),
        "references": dict(Counter(m.ref.source for m in made)),
        "agreement_with_reference": round(mean(agreement), 4) if agreement else None,
        "all_agree": sum(1 for m in with_ref if m.right and not m.wrong),
        "items_with_pairs": len({p.item_id for m in made for p in m.pairs}),
        "rationale_pairs": sum(len(m.pairs) for m in made),
        "sft_rows": sum(1 for m in made if m.item.best_id),
        **({"no_target": dict(no_target)} if no_target else {}),
    }
