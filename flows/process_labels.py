"""The process-label flow: problems → solutions → steps → OmegaPRM | Math-Shepherd → step labels → version.

The stage logic is in tasks/search/labelling.py (solve → split → search, one function per method, each running
its method's one driver); rollouts go to the engine through the call cache (tasks/rollouts.py `RolloutSource`).
With in-process engines, every round of every problem's pending rollout requests is one engine batch (lockstep
rounds: what keeps a local model busy). When every engine streams (a server), problems go through their rounds
in groups that run at the same time (runtime/overlap.py): a rollout round of one problem never waits for
another problem's, and the engine's scheduler keeps the server full. Same records either way: a problem's
search depends only on its own rollouts, and the groups' results are merged in problem order.

A version has one row per labelled solution, so its row_count is its number of distinct rows.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from ..config.process import ProcessLabelsConfig
from ..runtime.build import BuildContext
from ..runtime.calls import CallRunner
from ..runtime.overlap import map_groups, workers_for
from ..schemas.dataset import DatasetVersion
from ..schemas.process import PrefixLookup, Problem
from ..storage.problems import load_problems
from ..storage.stepwise import prefix_lookup, step_label_rows
from ..tasks.rollouts import RolloutPolicy, RolloutSource
from ..tasks.search.labelling import StepLabelRun, label_with_math_shepherd, label_with_omegaprm
from ..tasks.verify import AnswerChecker


@flow(name="process-labels")
def process_labels(config: ProcessLabelsConfig, catalog_path: str | None = None) -> DatasetVersion:
    """Label the steps of solutions to `config.problems`; returns the version (its stats: the build summary)."""
    problems = read_problems(config)
    with BuildContext(config, config.catalog_file(catalog_path), kind="stepwise") as build, \
            AnswerChecker(config.answer_timeout_s) as checker:
        rollouts = rollout_source(config, problems, build.runner, checker)
        lookup = prefix_lookup(build.catalog) if config.reuse_prefix_values else None
        run, duplicates = label_steps(config, problems, rollouts, lookup, build.runner).deduplicated()
        stage(build, problems, run)
        return build.commit(run.figures(config.method, len(problems), duplicates))


def read_problems(config: ProcessLabelsConfig) -> list[Problem]:
    src = config.problems
    problems = load_problems(Path(src.path), src.question_field, src.answer_field, src.answer_format, src.format)
    return problems[: src.limit] if src.limit else problems


def rollout_source(config: ProcessLabelsConfig, problems: list[Problem], runner: CallRunner,
                   checker: AnswerChecker) -> RolloutSource:
    p = config.policy
    policy = RolloutPolicy(runner.engine_name(p.engine), p.temperature, p.top_p, p.max_tokens, p.seed)
    return RolloutSource(policy, p.engine, problems, runner, checker)


def label_steps(config: ProcessLabelsConfig, problems: list[Problem], rollouts: RolloutSource,
                lookup: PrefixLookup | None, runner: CallRunner) -> StepLabelRun:
    """Solve, split and search every problem: all in lockstep rounds, or (server engines) in overlapped groups."""
    model = rollouts.policy.name

    def label(group: list[Problem]) -> StepLabelRun:
        if config.method == "omegaprm":
            return label_with_omegaprm(group, rollouts, config.omegaprm, model=model, lookup=lookup)
        return label_with_math_shepherd(group, rollouts, config.math_shepherd, model=model, lookup=lookup,
                                        solutions_per_problem=config.solutions_per_problem)

    if not runner.all_stream() or len(problems) < 2:
        return label(problems)
    return StepLabelRun.merge(map_groups(label, problems, workers_for(runner.concurrency()), runner))


def stage(build: BuildContext, problems: list[Problem], run: StepLabelRun) -> None:
    """The version's records and rows, into the build's staging tables."""
    build.stage("problems", problems)
    build.stage("solutions", run.solutions)
    build.stage("steps", run.steps)
    build.stage("prefix_values", run.prefix_values)
    build.stage_rows("step_labels", step_label_rows(run.labelled))
    build.add_rows(r.id for r in run.labelled)
