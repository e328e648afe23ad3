"""The preference flow: prompts → samples → pairwise judgments (both orders) → pairs → filters → version."""

from __future__ import annotations

import time
from functools import partial
from collections import Counter
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from ..engines.cache import CallCache
from ..schemas.dataset import DatasetVersion
from ..schemas.preference import Judgment, PreferencePair, Prompt, Sample
from ..storage.catalog import Catalog
from ..storage.inputs import load_prompts
from ..storage.versions import commit_version
from ..tasks.filters import FilterContext, funnel, run_filters
from ..tasks.judge import single
from ..tasks.pairs import aggregate, candidate_pairs
from ..tasks.sample import collapse_duplicates, sample_request, to_samples
from .calls import CallRunner
from .config import PreferenceBuildConfig

DEFAULT_CATALOG = "prefsynth.duckdb"


def read_prompts(config: PreferenceBuildConfig) -> list[Prompt]:
    src = config.prompts
    prompts = load_prompts(Path(src.path), field=src.field, fmt=src.format, max_chars=src.max_prompt_chars)
    return prompts[: src.limit] if src.limit else prompts


def sample_responses(config: PreferenceBuildConfig, prompts: list[Prompt], runner: CallRunner) -> list[Sample]:
    samples: list[Sample] = []
    for policy in config.policies:
        requests = [sample_request(policy, p) for p in prompts]
        results = runner.run(policy.engine, requests, stage=f"sample · {policy.engine}")
        model = runner.engine_name(policy.engine)
        for prompt, result in zip(prompts, results, strict=True):
            samples.extend(to_samples(policy.engine, model, prompt, policy.n, result))
    return samples


def judge_pairs(
    config: PreferenceBuildConfig, prompts: dict[str, Prompt], samples: list[Sample], runner: CallRunner
) -> tuple[list[Judgment], list[PreferencePair]]:
    """Every candidate pair judged as (x, y) and (y, x); unreadable replies get one constrained re-ask."""
    cfg = config.judge
    pairs = candidate_pairs(samples)
    items = [it for x, y in pairs for it in single.both_orders(prompts[x.prompt_id], x, y)]
    firsts = [single.first_request(cfg, it) for it in items]
    followup = partial(single.reask_for, cfg) if cfg.reask else None
    answers = runner.run_with_followup(cfg.engine, firsts, "judge", followup)
    judge = single.judge_name(runner.engine_name(cfg.engine), cfg)
    judgments = [single.to_judgment(judge, it, *answers[i]) for i, it in enumerate(items)]
    aggregated = [aggregate(x, y, judgments[2 * k : 2 * k + 2]) for k, (x, y) in enumerate(pairs)]
    return judgments, aggregated


@flow(name="preference-build")
def preference_build(config: PreferenceBuildConfig, catalog_path: str = DEFAULT_CATALOG) -> dict:
    """Build a new version of `config.name`; returns the build summary (also stored as the version's stats)."""
    started = time.perf_counter()
    prompts = read_prompts(config)
    with Catalog(catalog_path) as catalog:
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size)
        samples = collapse_duplicates(sample_responses(config, prompts, runner), config.dedupe)
        judgments, pairs = judge_pairs(config, {p.id: p for p in prompts}, samples, runner)
        ctx = FilterContext({j.id: j for j in judgments}, {s.id: s for s in samples})
        kept, decisions = run_filters(pairs, config.filters, ctx)
        stats = build_stats(prompts, samples, judgments, pairs, config, decisions, runner)
        stats["wall_time_s"] = round(time.perf_counter() - started, 3)
        version = commit_version(
            catalog,
            name=config.name,
            kind="preference",
            config=config.model_dump(mode="json"),
            records={"prompts": prompts, "samples": samples, "judgments": judgments, "pairs": pairs},
            row_ids=[p.id for p in kept],
            decisions=decisions,
            stats=stats,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
    return summary(version)


def build_stats(prompts, samples, judgments, pairs, config, decisions, runner: CallRunner) -> dict:
    return {
        "prompts": len(prompts),
        "samples": dict(Counter(s.status for s in samples)),
        "judgments": dict(Counter(j.status for j in judgments)),
        "reasked": sum(j.reasked for j in judgments),
        "pairs": len(pairs),
        "funnel": funnel(len(pairs), config.filters, decisions),
        **runner.stats.as_dict(),
    }


def summary(version: DatasetVersion) -> dict:
    return {
        "name": version.name,
        "version": version.version,
        "parent_version": version.parent_version,
        "rows": version.row_count,
        "content_hash": version.content_hash,
        "stats": version.stats,
    }
