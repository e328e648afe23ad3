"""The rationale flow: items → K sampled judgments → right/wrong by reference → rationale pairs → version.

Self-rationalization (Trivedi et al. 2024): data to train the judge on its own rationales.
"""

from __future__ import annotations

import time
from collections import Counter
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
from ..tasks.rationalize import (Reference, best_rationale, consensus, rationale_pairs, split_right_wrong,
                                 verifier_reference)
from ..tasks.verify import AnswerChecker
from .artifacts import publish_version_artifacts
from ..runtime.calls import CallRunner
from .preference import DEFAULT_CATALOG, summary
from .rationale_config import RationalizeConfig


def read_inputs(config: RationalizeConfig) -> list[RationaleInput]:
    items = load_rationale_inputs(Path(config.items.path), config.items.format)
    return items[: config.items.limit] if config.items.limit else items


def sample_judgments(config: RationalizeConfig, pitems: list[single.PairwiseItem], runner: CallRunner) -> list[list[Judgment]]:
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
    return [
        list({jd.id: jd for j, r in enumerate(rs) if (jd := single.to_judgment(judge, pitems[i], r, reasks.get((i, j))))}.values())
        for i, rs in enumerate(replies)
    ]


def reference_for(config: RationalizeConfig, item: RationaleInput, judgments: list[Judgment], checker) -> Reference:
    mode = config.reference
    if mode in ("auto", "gold") and item.label:
        return Reference("A" if item.label == "A>B" else "B", "gold")
    if mode in ("auto", "verifier") and item.gold_answer is not None:
        a, b = (checker.check(text, item.gold_answer) for text in (item.response_a, item.response_b))
        return verifier_reference(_correct(a.status), _correct(b.status))
    if mode in ("auto", "consensus"):
        return consensus(judgments, config.min_consensus_margin)
    return Reference(None, "none")


def _correct(status: str) -> bool | None:
    return {"correct": True, "incorrect": False, "unparseable": False}.get(status)


@flow(name="rationalize")
def rationalize(config: RationalizeConfig, catalog_path: str = DEFAULT_CATALOG) -> dict:
    """Build a new `rationale` version of `config.name`; returns the build summary."""
    started = time.perf_counter()
    inputs = read_inputs(config)
    prompts = {i.prompt_id: Prompt.of(i.prompt_text, i.source) for i in inputs}
    pitems = [single.PairwiseItem(prompts[i.prompt_id], imported_sample(i.prompt_id, i.response_a),
                                  imported_sample(i.prompt_id, i.response_b)) for i in inputs]
    with Catalog(catalog_path) as catalog, AnswerChecker(config.answer_timeout_s) as checker:
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size)
        per_item = sample_judgments(config, pitems, runner)
        items, pairs, refs = [], [], []
        for inp, pit, judgments in zip(inputs, pitems, per_item, strict=True):
            ref = reference_for(config, inp, judgments, checker)
            right, wrong = split_right_wrong(judgments, ref)
            best = best_rationale(right)
            messages = single.first_request(config.judge, pit).messages
            item_id = content_id("rationale-item", pit.prompt.id, pit.first.id, pit.second.id,
                                 sorted(j.id for j in judgments), ref.winner, ref.source)
            items.append(RationaleItem(
                id=item_id, prompt_id=pit.prompt.id, response_a_id=pit.first.id, response_b_id=pit.second.id,
                judge=judgments[0].judge if judgments else "", judging_messages=messages, reference=ref.winner,
                reference_source=ref.source, judgment_ids=tuple(j.id for j in judgments),
                right_ids=tuple(j.id for j in right), best_id=best.id if best else None,
            ))
            pairs += rationale_pairs(item_id, right, wrong, config.max_pairs_per_item)
            refs.append((ref, right, wrong))
        judgments = [j for js in per_item for j in js]
        stats = rationale_stats(config, items, judgments, pairs, refs, runner)
        stats["wall_time_s"] = round(time.perf_counter() - started, 3)
        samples = list({s.id: s for p in pitems for s in (p.first, p.second)}.values())
        version = commit_version(
            catalog, name=config.name, kind="rationale", config=config.model_dump(mode="json"),
            records={"prompts": list(prompts.values()), "samples": samples, "judgments": judgments,
                     "rationale_items": items, "rationale_pairs": pairs},
            row_ids=[it.id for it in items if it.best_id or it.reference], decisions=[], stats=stats,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
        publish_version_artifacts(catalog, version)  # the run's summary as Prefect artifacts
    return summary(version)


def rationale_stats(config, items, judgments, pairs, refs, runner: CallRunner) -> dict:
    with_ref = [(r, right, wrong) for r, right, wrong in refs if r.winner]
    agreement = [len(right) / (len(right) + len(wrong)) for _, right, wrong in with_ref if right or wrong]
    return {
        "items": len(items),
        "judge": items[0].judge if items else None,
        "k": config.k,
        "judgments": dict(Counter(j.status for j in judgments)),
        "reasked": sum(j.reasked for j in judgments),
        "references": dict(Counter(r.source for r, _, _ in refs)),
        "agreement_with_reference": round(mean(agreement), 4) if agreement else None,
        "all_agree": sum(1 for _, right, wrong in with_ref if right and not wrong),
        "items_with_pairs": len({p.item_id for p in pairs}),
        "rationale_pairs": len(pairs),
        "sft_rows": sum(1 for it in items if it.best_id),
        **runner.stats.as_dict(),
    }
