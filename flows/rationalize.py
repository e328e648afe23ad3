"""The rationale flow: items → K sampled judgments → right/wrong by reference → rationale pairs → version.

Self-rationalization (Trivedi et al. 2024): data to train the judge on its own rationales. Half the items of each
known reference side are shown with their responses swapped (`order: balanced`, recorded per item), every
sample is a vote, cut or re-asked replies are kept out of the training targets while a complete one agrees, and
the run has the same budget and `max_error_rate` rule as every build (runtime/budget.py, enforced by CallRunner).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from prefect import flow
from prefect.runtime import flow_run

from ..engines.cache import CallCache
from ..schemas.engine import GenResult
from ..schemas.ids import content_id
from ..schemas.imported import imported_sample
from ..schemas.preference import Judgment, Prompt
from ..schemas.rationale import RationaleInput, RationaleItem
from ..storage.catalog import Catalog
from ..storage.rationale import load_rationale_inputs
from ..storage.versions import commit_version
from ..tasks.judge import single
from ..tasks.judge.parse import parse_pairwise
from ..tasks.rationalize import (Reference, as_shown, best_rationale, consensus, distinct, presentation_order,
                                 rationale_pairs, split_right_wrong, verifier_reference)
from ..tasks.verify import AnswerChecker
from .artifacts import publish_version_artifacts
from ..runtime.budget import RunLimits
from ..runtime.calls import CallRunner
from .preference import DEFAULT_CATALOG, summary
from ..config.rationale import RationalizeConfig


def read_inputs(config: RationalizeConfig) -> list[RationaleInput]:
    items = load_rationale_inputs(Path(config.items.path), config.items.format)
    return items[: config.items.limit] if config.items.limit else items


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


def show(config: RationalizeConfig, inputs: list[RationaleInput], checker) -> list[Shown]:
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


def sample_judgments(config: RationalizeConfig, pitems: list[single.PairwiseItem], runner: CallRunner) -> list[Sampled]:
    """K judgments per item from one request with n=K; replies without a verdict get one constrained re-ask."""
    cfg = config.judge
    requests = [single.first_request(cfg, it).model_copy(update={"n": config.k}) for it in pitems]
    results = runner.run(cfg.engine, requests, stage=f"judge ×{config.k}")
    # One reply per completion; a failed call stays one error reply (it becomes one `error` judgment).
    replies = [[GenResult(completions=[c]) for c in r.completions] if r.ok and r.completions else [r] for r in results]
    todo = [(i, j) for i, rs in enumerate(replies) for j, r in enumerate(rs)
            if cfg.reask and r.ok and parse_pairwise(r.completions[0].text).verdict is None]
    reask_requests = [single.reask_request(cfg, requests[i], replies[i][j].completions[0].text) for i, j in todo]
    reasks = dict(zip(todo, runner.run(cfg.engine, reask_requests, stage="judge · re-ask"), strict=True))
    judge = single.judge_name(runner.engine_name(cfg.engine), cfg)
    out = []
    for i, rs in enumerate(replies):
        judgments = [single.to_judgment(judge, pitems[i], r, reasks.get((i, j))) for j, r in enumerate(rs)]
        cut = {jd.id for jd, r in zip(judgments, rs, strict=True)
               if jd.reasked or (r.completions and r.completions[0].finish_reason == "length")}
        out.append(Sampled(judgments, frozenset(cut)))
    return out


def known_reference(config: RationalizeConfig, item: RationaleInput, checker) -> Reference | None:
    """The gold label's or the verifier's reference, in the input's order; None when it is not one of those."""
    mode = config.reference
    if mode in ("auto", "gold") and item.label:
        return Reference("A" if item.label == "A>B" else "B", "gold")
    if mode in ("auto", "verifier") and item.gold_answer is not None:
        a, b = (checker.check(text, item.gold_answer) for text in (item.response_a, item.response_b))
        return verifier_reference(_correct(a.status), _correct(b.status))
    return None


def reference_for(config: RationalizeConfig, shown: Shown, judgments: list[Judgment]) -> Reference:
    """The side that should win, in the order shown: a known reference restated for that order, else the
    consensus of the judgments (which already speak in the order shown)."""
    if shown.known is not None:
        return as_shown(shown.known, shown.swapped)
    if config.reference in ("auto", "consensus"):
        return consensus(judgments, config.min_consensus_margin)
    return Reference(None, "none")


def _correct(status: str) -> bool | None:
    return {"correct": True, "incorrect": False, "unparseable": False}.get(status)


def rationale_item(config: RationalizeConfig, shown: Shown, sampled: Sampled, ref: Reference) -> RationaleItem:
    """The stored item: its K votes (`sample_ids`), the distinct judgments, the right ones and the SFT pick."""
    pit, judgments = shown.item, sampled.judgments
    right, _ = split_right_wrong(distinct(judgments), ref)
    best = best_rationale(right, sampled.incomplete)
    samples = tuple(j.id for j in judgments)
    return RationaleItem(
        id=content_id("rationale-item", pit.prompt.id, pit.first.id, pit.second.id, sorted(samples), ref.winner,
                      ref.source, shown.swapped),
        prompt_id=pit.prompt.id, response_a_id=pit.first.id, response_b_id=pit.second.id,
        judge=judgments[0].judge if judgments else "",
        judging_messages=single.first_request(config.judge, pit).messages, reference=ref.winner,
        reference_source=ref.source, judgment_ids=tuple(j.id for j in distinct(judgments)),
        right_ids=tuple(j.id for j in right), best_id=best.id if best else None, swapped=shown.swapped,
        sample_ids=samples, incomplete_ids=tuple(sorted(sampled.incomplete)),
    )


@flow(name="rationalize")
def rationalize(config: RationalizeConfig, catalog_path: str = DEFAULT_CATALOG) -> dict:
    """Build a new `rationale` version of `config.name`; returns the build summary.

    Stops without a version (BuildStopped) when a budget is reached or more calls fail than `max_error_rate`.
    """
    started = time.perf_counter()
    inputs = read_inputs(config)
    with Catalog(catalog_path) as catalog, AnswerChecker(config.answer_timeout_s) as checker:
        shown = show(config, inputs, checker)
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size, RunLimits.of(config))
        per_item = sample_judgments(config, [s.item for s in shown], runner)
        items, pairs, refs = [], [], []
        for sh, sampled in zip(shown, per_item, strict=True):
            ref = reference_for(config, sh, sampled.judgments)
            item = rationale_item(config, sh, sampled, ref)
            right, wrong = split_right_wrong(sampled.judgments, ref)  # per sample: the agreement counts votes
            pairs += rationale_pairs(item.id, right, wrong, config.max_pairs_per_item, sampled.incomplete)
            items.append(item)
            refs.append((ref, right, wrong))
        stats = rationale_stats(config, items, per_item, pairs, refs, runner)
        stats["wall_time_s"] = round(time.perf_counter() - started, 3)
        runner.check_errors()  # a run whose calls mostly failed writes no version
        samples = distinct([s for sh in shown for s in (sh.item.first, sh.item.second)])
        version = commit_version(
            catalog, name=config.name, kind="rationale", config=config.model_dump(mode="json"),
            records={"prompts": distinct([sh.item.prompt for sh in shown]), "samples": samples,
                     "judgments": distinct([j for s in per_item for j in s.judgments]),
                     "rationale_items": items, "rationale_pairs": pairs},
            row_ids=[it.id for it in items if it.best_id or it.reference], decisions=[], stats=stats,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
        publish_version_artifacts(catalog, version)  # the run's summary as Prefect artifacts
    return summary(version)


def rationale_stats(config, items, per_item: list[Sampled], pairs, refs, runner: CallRunner) -> dict:
    """Counts per sample (K per item: identical samples each count), as the consensus and agreement use them."""
    with_ref = [(r, right, wrong) for r, right, wrong in refs if r.winner]
    agreement = [len(right) / (len(right) + len(wrong)) for _, right, wrong in with_ref if right or wrong]
    judgments = [j for s in per_item for j in s.judgments]
    return {
        "items": len(items),
        "judge": items[0].judge if items else None,
        "k": config.k,
        "swapped_items": sum(it.swapped for it in items),
        "judgments": dict(Counter(j.status for j in judgments)),
        "reasked": sum(j.reasked for j in judgments),
        "incomplete": sum(j.id in s.incomplete for s in per_item for j in s.judgments),
        "references": dict(Counter(r.source for r, _, _ in refs)),
        "agreement_with_reference": round(mean(agreement), 4) if agreement else None,
        "all_agree": sum(1 for _, right, wrong in with_ref if right and not wrong),
        "items_with_pairs": len({p.item_id for p in pairs}),
        "rationale_pairs": len(pairs),
        "sft_rows": sum(1 for it in items if it.best_id),
        **runner.stats.as_dict(),
    }
