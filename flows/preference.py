"""The preference flow: prompts → samples → judgments (judge or jury) → pairs → filters → version.

Bounded memory: the prompts go through sampling, judging and filtering `CHUNK_PROMPTS` at a time (a prompt file
is read again chunk by chunk, not held: storage/prompt_stream.py), and each
chunk's records, filter decisions and kept rows are staged in the catalog at once (runtime/build.py); the
version appears atomically at the commit. Two things need every pair and are held in memory as a light
projection (judgments without their texts, paired samples only): a Dawid-Skene aggregation and the
dataset-level filters (`near_duplicate_prompt`, `rank_consistency`). The build's figures are counted per
chunk (tasks/preference_tally.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

from prefect import flow

from ..config.preference import PreferenceBuildConfig
from ..runtime.build import BuildContext
from ..runtime.calls import CallRunner
from ..runtime.overlap import map_groups, workers_for
from ..schemas.dataset import DatasetVersion
from ..schemas.preference import PreferencePair, Prompt, Sample
from ..storage.catalog import Catalog
from ..storage.inputs import InputError, PromptFile, read_prompt_file
from ..storage.prompt_stream import chunked
from ..storage.records import imported_judges, imported_judgments, latest_version, version_pairs
from ..tasks.filters import FilterContext, filter_pairs
from ..tasks.judge.imported import imported_samples
from ..tasks.judge.panel import JuryError, Panel, Verdicts, judge_samples, label, merge, seat
from ..tasks.preference_tally import PreferenceTally, light
from ..tasks.sample import collapse_duplicates, sample_request, to_samples
from ..storage.incremental import IncrementalPlan, plan_incremental


def read_prompts(config: PreferenceBuildConfig) -> Sequence[Prompt]:
    return read_prompt_input(config).prompts


def read_prompt_input(config: PreferenceBuildConfig) -> PromptFile:
    """The build's prompts (the first `limit`), and the bad rows left out when `prompts.on_error` is skip."""
    src = config.prompts
    read = read_prompt_file(Path(src.path), field=src.field, fmt=src.format, max_chars=src.max_prompt_chars,
                            reference_field=src.reference_field, on_error=src.on_error)
    return PromptFile(read.prompts.limited(src.limit) if src.limit else read.prompts, read.skipped)


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


def seat_jury(config: PreferenceBuildConfig, runner: CallRunner, catalog: Catalog) -> Panel:
    """The jury, set up before any engine call: a fitted aggregation naming no juror of it fails here."""
    imported = {j.judge: imported_judgments(catalog, j.judge) for j in config.jurors if j.kind == "imported"}
    try:
        return seat(config.jurors, runner, config.aggregation, imported)
    except JuryError as exc:  # the CLI prints an InputError as one line and exits non-zero
        raise InputError(exc.field, None, None, exc.problem) from None


def sample_and_judge(config: PreferenceBuildConfig, prompts: list[Prompt], runner: CallRunner, catalog: Catalog,
                     panel: Panel) -> tuple[list[Sample], Verdicts]:
    """Samples (duplicates marked) and the jury's verdicts on their pairs (not labelled yet: `label`).

    Sampling, pairing and judging are per prompt, so when every engine streams (servers) the prompts go through
    all stages in small groups that overlap (runtime/overlap.py): a prompt's pairs are judged as soon as its
    samples are in. In-process engines run each stage over the given prompts. Same records either way.
    """
    def one_group(group: list[Prompt]) -> tuple[list[Sample], Verdicts]:
        samples = collapse_duplicates(collect_samples(config, group, runner, catalog), config.dedupe)
        return samples, judge_samples(panel, {p.id: p for p in group}, samples, config.pairing, runner)

    if not runner.all_stream() or len(prompts) < 2:
        return one_group(prompts)
    for policy in (p for p in config.policies if p.kind == "sample"):  # every group's first look-up, at once
        runner.prefetch(policy.engine, [sample_request(policy, p) for p in prompts])
    parts = map_groups(one_group, prompts, workers_for(runner.concurrency()), runner)
    return [s for samples, _ in parts for s in samples], merge([verdicts for _, verdicts in parts])


def parent_pairs(config: PreferenceBuildConfig, catalog: Catalog) -> tuple[PreferencePair, ...] | None:
    """The pairs of the version this build will follow (read only when a rank-consistency filter needs them)."""
    if not any(f.kind == "rank_consistency" for f in config.filters):
        return None
    latest = latest_version(catalog, config.name)
    return None if latest is None else tuple(version_pairs(catalog, config.name, latest))


# Prompts sampled, judged, filtered and staged at once: a build's memory is per chunk, not per build
# ($PREFSYNTH_CHUNK_PROMPTS overrides: smaller chunks use less memory, bigger ones fewer round trips).
CHUNK_PROMPTS = int(os.environ.get("PREFSYNTH_CHUNK_PROMPTS", "1000"))
DATASET_FILTERS = ("near_duplicate_prompt", "rank_consistency")  # filters that compare pairs across prompts


@dataclass(frozen=True)
class Judged:
    """Prompts with their samples and the jury's verdicts on their pairs (a `JuryResult` once labelled): one
    chunk, or the whole build."""

    prompts: dict[str, Prompt]
    samples: list[Sample]
    jury: Verdicts


def needs_all_pairs(config: PreferenceBuildConfig) -> bool:
    """Whether pairs can only be labelled or filtered once every pair is judged: a Dawid-Skene fit, or a filter
    that compares prompts or rankings across the dataset."""
    return config.aggregation is not None and config.aggregation.kind == "dawid_skene" or any(
        f.kind in DATASET_FILTERS for f in config.filters)


def judged_chunks(config: PreferenceBuildConfig, prompts: Sequence[Prompt], build: BuildContext,
                  tally: PreferenceTally) -> Iterator[Judged]:
    """Sample and judge `CHUNK_PROMPTS` prompts at a time; each chunk's prompts, samples and judgments are
    staged and counted at once. The jury is seated (and checked) before the first engine call."""
    panel = seat_jury(config, build.runner, build.catalog)
    for chunk in chunked(prompts, CHUNK_PROMPTS):  # a prompt file is read again chunk by chunk, not held
        samples, jury = sample_and_judge(config, chunk, build.runner, build.catalog, panel)
        for table, records in (("prompts", chunk), ("samples", samples), ("judgments", jury.judgments)):
            build.stage(table, records)
        tally.samples(samples)
        tally.judgments(jury.judgments)
        build.chunk_done()
        yield Judged({p.id: p for p in chunk}, samples, jury)


def to_filter(config: PreferenceBuildConfig, chunks: Iterator[Judged]) -> Iterator[Judged]:
    """The groups of pairs the filters see: each chunk as it comes, or — when `needs_all_pairs` — every chunk at
    once, held as a light projection (judgments without their texts, only the samples that are paired; the full
    records are staged already). Either way each pair is labelled once, by the configured aggregation."""
    if not needs_all_pairs(config):
        for chunk in chunks:
            yield replace(chunk, jury=label(chunk.jury, config.aggregation))
        return
    held = [_light(chunk) for chunk in chunks]
    if held:
        prompts = {pid: p for chunk in held for pid, p in chunk.prompts.items()}
        samples = [s for chunk in held for s in chunk.samples]
        yield Judged(prompts, samples, label(merge([chunk.jury for chunk in held]), config.aggregation))


def _light(chunk: Judged) -> Judged:
    slim = {j.id: light(j) for j in chunk.jury.judgments}
    jury = replace(chunk.jury, judgments=list(slim.values()),
                   by_pair=[[slim.get(j.id, j) for j in js] for js in chunk.jury.by_pair])
    paired = {s.id for x, y in jury.candidates for s in (x, y)}
    return Judged(chunk.prompts, [s for s in chunk.samples if s.id in paired], jury)


def filter_and_stage(config: PreferenceBuildConfig, group: Judged, build: BuildContext, tally: PreferenceTally,
                     parent: tuple[PreferencePair, ...] | None) -> None:
    """Run the filters over a group of pairs; stage the pairs (and those filters changed), the decisions and the
    kept pairs as the version's rows."""
    jury = group.jury
    ctx = FilterContext({j.id: j for j in jury.judgments}, {s.id: s for s in group.samples}, prompts=group.prompts,
                        all_pairs=tuple(jury.pairs), parent_pairs=parent, jury=jury.jury)
    run = filter_pairs(jury.pairs, config.filters, ctx)
    build.stage("pairs", jury.pairs + run.derived)
    build.add_decisions(run.decisions)
    build.add_rows(p.id for p in run.kept)
    tally.filtered(jury.pairs, jury.candidates, jury.by_pair, jury.jury, run)


@flow(name="preference-build")
def preference_build(config: PreferenceBuildConfig, catalog_path: str | None = None) -> DatasetVersion:
    """Build a new version of `config.name`: prompts → plan → sample + judge → filter → commit, chunk by chunk
    (runtime/build.py stages every chunk's records in the catalog; the version appears at the commit)."""
    source = read_prompt_input(config)
    with BuildContext(config, config.catalog_file(catalog_path), "preference") as build:
        plan = plan_build(config, source.prompts, build)
        tally = PreferenceTally(config.filters, with_verifier=any(j.kind == "verifier" for j in config.jurors))
        parent = parent_pairs(config, build.catalog)
        for group in to_filter(config, judged_chunks(config, plan.prompts, build, tally)):
            filter_and_stage(config, group, build, tally, parent)
        return build.commit(figures(config, source, plan, tally))


def plan_build(config: PreferenceBuildConfig, prompts: list[Prompt], build: BuildContext) -> IncrementalPlan:
    """The prompts to sample now (incremental builds skip those seen), the carried rows staged first; imported
    judges checked before any engine call."""
    plan = plan_incremental(build.catalog, config.name, config.incremental, prompts)
    check_imported_judges(config, build.catalog)
    build.add_rows(plan.carried_rows)
    return plan


def figures(config: PreferenceBuildConfig, source: PromptFile, plan: IncrementalPlan, tally: PreferenceTally) -> dict:
    """The build's stats figures (schemas/stats.py `PreferenceStats`; the build adds call counts and wall time)."""
    out = tally.figures(len(plan.prompts), config.pairing.strategy)
    if config.incremental != "off":
        out["incremental"] = plan.stats(config.incremental)
    if source.skipped:
        out["skipped_rows"] = skipped_rows(source)
    return out
