"""The preference flow: prompts → samples → judgments (judge or jury) → pairs → filters → version."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from ..engines.cache import CallCache
from ..schemas.dataset import DatasetVersion
from ..schemas.preference import PreferencePair, Prompt, Sample
from ..storage.catalog import Catalog
from ..storage.inputs import InputError, PromptFile, read_prompt_file
from ..storage.records import imported_judges, imported_judgments, latest_version, version_pairs
from ..storage.versions import commit_version
from ..tasks.filters import FilterContext, filter_pairs, funnel
from ..tasks.judge.imported import imported_samples
from ..tasks.judge.verifier_stats import verifier_section
from ..tasks.sample import collapse_duplicates, sample_request, to_samples
from ..runtime.budget import RunLimits
from .artifacts import publish_version_artifacts
from ..runtime.calls import CallRunner
from ..runtime.overlap import map_groups, workers_for
from ..config.preference import PreferenceBuildConfig
from .incremental import plan_incremental
from .judging import JuryResult, jury_stats, merge_juries, run_jury

DEFAULT_CATALOG = "prefsynth.duckdb"


def read_prompts(config: PreferenceBuildConfig) -> list[Prompt]:
    return read_prompt_input(config).prompts


def read_prompt_input(config: PreferenceBuildConfig) -> PromptFile:
    """The build's prompts (the first `limit`), and the bad rows left out when `prompts.on_error` is skip."""
    src = config.prompts
    read = read_prompt_file(Path(src.path), field=src.field, fmt=src.format, max_chars=src.max_prompt_chars,
                            reference_field=src.reference_field, on_error=src.on_error)
    return PromptFile(read.prompts[: src.limit] if src.limit else read.prompts, read.skipped)


def skipped_rows(source: PromptFile) -> dict:
    """The summary's account of skipped input rows: how many, and each as FILE:LINE: field 'F': problem."""
    return {"count": len(source.skipped), "rows": [str(e) for e in source.skipped]}


def sample_responses(config: PreferenceBuildConfig, prompts: list[Prompt], runner: CallRunner) -> list[Sample]:
    samples: list[Sample] = []
    for policy in (p for p in config.policies if p.kind == "sample"):
        requests = [sample_request(policy, p) for p in prompts]
        results = runner.run(policy.engine, requests, stage=f"sample · {policy.engine}")
        model = runner.engine_name(policy.engine)
        for prompt, result in zip(prompts, results, strict=True):
            samples.extend(to_samples(policy.engine, model, prompt, policy.n, result))
    return samples


def check_imported_judges(config: PreferenceBuildConfig, catalog: Catalog) -> None:
    """Fail before any engine call when a build names imported judges the catalog does not hold."""
    known = imported_judges(catalog)
    wanted = [j.judge for j in config.jurors if j.kind == "imported"] + config.imported_response_judges()
    for name in dict.fromkeys(wanted):
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise InputError(catalog.path, None, None, f"no imported judgments by judge {name!r} (imported judges: "
                             f"{have}); load them with `prefsynth import-judgments FILE`")


def collect_samples(config: PreferenceBuildConfig, prompts: list[Prompt], runner: CallRunner, catalog: Catalog) -> list[Sample]:
    """Sampled responses, then the responses of imported judgments (policies of kind imported)."""
    samples = sample_responses(config, prompts, runner)
    for judge in config.imported_response_judges():
        samples.extend(imported_samples(prompts, imported_judgments(catalog, judge)))
    return list({s.id: s for s in samples}.values())


def sample_and_judge(config: PreferenceBuildConfig, prompts: list[Prompt], runner: CallRunner,
                     catalog: Catalog) -> tuple[list[Sample], JuryResult]:
    """Samples (duplicates marked) and the jury's verdicts on their pairs.

    Sampling, pairing and judging are per prompt, so when every engine streams (servers) the prompts go through
    all stages in small groups that overlap (runtime/overlap.py): a prompt's pairs are judged as soon as its
    samples are in. In-process engines run each stage over all prompts. Same records either way: a model
    aggregation (Dawid-Skene, fitted) labels the pairs of all groups together, once they are all judged.
    """
    def one_group(group: list[Prompt], aggregation=None) -> tuple[list[Sample], JuryResult]:
        samples = collapse_duplicates(collect_samples(config, group, runner, catalog), config.dedupe)
        by_id = {p.id: p for p in group}
        return samples, run_jury(config.jurors, by_id, samples, config.pairing, runner, catalog, aggregation)

    if not runner.all_stream() or len(prompts) < 2:
        return one_group(prompts, config.aggregation)
    for policy in (p for p in config.policies if p.kind == "sample"):  # every group's first look-up, at once
        runner.prefetch(policy.engine, [sample_request(policy, p) for p in prompts])
    parts = map_groups(one_group, prompts, workers_for(runner.concurrency()), runner)
    return [s for samples, _ in parts for s in samples], merge_juries([jury for _, jury in parts], config.aggregation)


def parent_pairs(config: PreferenceBuildConfig, catalog: Catalog) -> tuple[PreferencePair, ...] | None:
    """The pairs of the version this build will follow (read only when a rank-consistency filter needs them)."""
    if not any(f.kind == "rank_consistency" for f in config.filters):
        return None
    latest = latest_version(catalog, config.name)
    return None if latest is None else tuple(version_pairs(catalog, config.name, latest))


@flow(name="preference-build")
def preference_build(config: PreferenceBuildConfig, catalog_path: str = DEFAULT_CATALOG) -> dict:
    """Build a new version of `config.name`; returns the build summary (also stored as the version's stats)."""
    started = time.perf_counter()
    source = read_prompt_input(config)
    all_prompts = source.prompts
    with Catalog(catalog_path) as catalog:
        plan = plan_incremental(catalog, config.name, config.incremental, all_prompts)
        prompts = plan.prompts
        by_id = {p.id: p for p in prompts}
        check_imported_judges(config, catalog)
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size, RunLimits.of(config))
        samples, jury = sample_and_judge(config, prompts, runner, catalog)
        ctx = FilterContext({j.id: j for j in jury.judgments}, {s.id: s for s in samples}, prompts=by_id,
                            all_pairs=tuple(jury.pairs), parent_pairs=parent_pairs(config, catalog), jury=jury.jury)
        run = filter_pairs(jury.pairs, config.filters, ctx)
        stats = build_stats(prompts, samples, jury, config, run.decisions, runner)
        stats.update(verifier_section(jury.pairs, jury.by_pair, run.kept))  # with a verifier juror only
        if config.incremental != "off":
            stats["incremental"] = plan.stats(config.incremental)
        if source.skipped:
            stats["skipped_rows"] = skipped_rows(source)
        stats["wall_time_s"] = round(time.perf_counter() - started, 3)
        runner.check_errors()  # a build whose calls mostly failed writes no version
        version = commit_version(
            catalog,
            name=config.name,
            kind="preference",
            config=config.model_dump(mode="json"),
            records={"prompts": prompts, "samples": samples, "judgments": jury.judgments,
                     "pairs": jury.pairs + run.derived},
            row_ids=plan.rows([p.id for p in run.kept]),
            decisions=run.decisions,
            stats=stats,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
        publish_version_artifacts(catalog, version)  # the run's summary as Prefect artifacts
    return summary(version)


def build_stats(prompts, samples, jury, config, decisions, runner: CallRunner) -> dict:
    return {
        "prompts": len(prompts),
        "samples": dict(Counter(s.status for s in samples)),
        "judgments": dict(Counter(j.status for j in jury.judgments)),
        "reasked": sum(j.reasked for j in jury.judgments),
        "pairing": config.pairing.strategy,
        "pairs": len(jury.pairs),
        **jury_stats(jury),
        "funnel": funnel(len(jury.pairs), config.filters, decisions),
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
