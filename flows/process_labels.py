"""The process-label flow: problems → solutions → steps → OmegaPRM | Math-Shepherd → step labels → version.

The searches live in this process (they are small state machines) and run through the same drivers the tests
and benchmarks run (`tasks.search.omegaprm.run_omegaprm`, `tasks.search.math_shepherd.run_math_shepherd`):
every round of every problem's pending rollout requests goes to the engine as one batch, through the call
cache. A version has one row per labelled solution, so its row_count is its number of distinct rows.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from ..engines.cache import CallCache
from ..schemas.process import LabelledSolution, PrefixValue, Problem, Rollout, RolloutRequest, Solution, Step
from ..storage.catalog import Catalog
from ..storage.problems import load_problems
from ..storage.stepwise import prefix_lookup, step_label_rows
from ..storage.versions import commit_version
from ..tasks.rollouts import RolloutPolicy, rollout_request, to_rollouts
from ..tasks.search import math_shepherd, omegaprm
from ..tasks.steps import make_steps
from ..tasks.verify import AnswerChecker
from ..runtime.budget import RunLimits
from .artifacts import publish_version_artifacts
from ..runtime.calls import CallRunner
from .preference import DEFAULT_CATALOG, summary
from ..config.process import ProcessLabelsConfig


def read_problems(config: ProcessLabelsConfig) -> list[Problem]:
    src = config.problems
    problems = load_problems(Path(src.path), src.question_field, src.answer_field, src.answer_format, src.format)
    return problems[: src.limit] if src.limit else problems


class Rollouts:
    """The rollout function the searches call: RolloutRequests → one engine batch → checked Rollouts."""

    def __init__(self, config: ProcessLabelsConfig, problems: list[Problem], runner: CallRunner, checker):
        p = config.policy
        self.policy = RolloutPolicy(runner.engine_name(p.engine), p.temperature, p.top_p, p.max_tokens, p.seed)
        self.engine_key = p.engine
        self.problems = {pr.id: pr for pr in problems}
        self.runner, self.checker = runner, checker
        self.rounds = 0

    def __call__(self, requests: list[RolloutRequest]) -> list[list[Rollout]]:
        self.rounds += 1
        gen = [rollout_request(self.policy, self.problems[r.problem_id], r) for r in requests]
        # one progress bar, restarted each round: a search may take dozens of rounds
        results = self.runner.run(self.engine_key, gen, stage="rollouts")
        return [
            to_rollouts(res, self.problems[r.problem_id].gold_answer, self.checker)
            for r, res in zip(requests, results, strict=True)
        ]


def label_with_omegaprm(config, problems, rollouts: Rollouts, lookup):
    """OmegaPRM through `tasks.search.omegaprm.run_omegaprm` (the driver the tests cover): each round of
    every problem's pending request is one engine batch. Rows: the searched rollouts whose error was located."""
    results = omegaprm.run_omegaprm(problems, rollouts, config.omegaprm, model=rollouts.policy.name, lookup=lookup)
    labelled, solutions, steps, values = [], [], [], []
    for res in results:
        solutions += [*res.screening, *res.rollouts]
        values += res.prefix_values
        for path in res.paths:
            if path.status != "located":
                continue
            solutions.append(path.solution)
            steps += path.steps
            labelled.append(LabelledSolution.create(path.solution.id, "omegaprm", len(path.steps), path.labels))
    stats = {
        "stop_reasons": dict(Counter(r.stats.stop_reason for r in results)),
        "paths": dict(Counter(p.status for r in results for p in r.paths)),
        "estimates": sum(r.stats.estimates for r in results),
        "rollouts_requested": sum(r.stats.spent for r in results),  # what the budget counts
        "extra_draws": sum(r.stats.extra_draws for r in results),  # sequential estimation's further draws
    }
    return labelled, solutions, steps, values, stats


def label_with_math_shepherd(config, problems, rollouts: Rollouts, lookup):
    """Math-Shepherd: one round of `solutions_per_problem` samples, then
    `tasks.search.math_shepherd.run_math_shepherd` (the driver the tests cover) labels every step of each."""
    first = [RolloutRequest(p.id, "", config.solutions_per_problem) for p in problems]
    sampled = rollouts(first)
    solutions = [
        Solution.create(p.id, rollouts.policy.name, r.text, r.final_answer, r.check_status)
        for p, rs in zip(problems, sampled, strict=True)
        for r in rs
    ]
    solutions = list({s.id: s for s in solutions}.values())
    sep = config.math_shepherd.step_separator
    steps_by_solution = {s.id: make_steps(s.id, s.text, sep) for s in solutions}
    result = math_shepherd.run_math_shepherd(solutions, rollouts, config.math_shepherd,
                                             completer=rollouts.policy.name, lookup=lookup, steps=steps_by_solution)
    labelled = [
        LabelledSolution.create(item.solution.id, "math_shepherd", len(item.steps), item.labels)
        for item in result.labelled
        if not item.missing and item.steps
    ]
    steps = [st for item in labelled for st in steps_by_solution[item.solution_id]]
    stats = {"incomplete": sum(1 for item in result.labelled if item.missing)}
    return labelled, solutions, steps, list(result.prefix_values), stats


@flow(name="process-labels")
def process_labels(config: ProcessLabelsConfig, catalog_path: str = DEFAULT_CATALOG) -> dict:
    """Label the steps of solutions to `config.problems`; returns the build summary (also the version's stats)."""
    started = time.perf_counter()
    problems = read_problems(config)
    with Catalog(catalog_path) as catalog, AnswerChecker(config.answer_timeout_s) as checker:
        runner = CallRunner(CallCache(catalog), config.engines, config.batch_size, RunLimits.of(config))
        rollouts = Rollouts(config, problems, runner, checker)
        lookup = prefix_lookup(catalog) if config.reuse_prefix_values else None
        method = label_with_omegaprm if config.method == "omegaprm" else label_with_math_shepherd
        labelled, solutions, steps, values, method_stats = method(config, problems, rollouts, lookup)
        labelled, duplicates = _one_row_per_solution(labelled)
        solutions = list({s.id: s for s in solutions}.values())
        stats = {
            "problems": len(problems),
            "method": config.method,
            "solutions": dict(Counter(s.check_status for s in solutions)),
            "labelled_solutions": len(labelled),
            "labelled_steps": sum(len(r.labels) for r in labelled),
            "with_error": sum(r.first_error is not None for r in labelled),
            "duplicate_rows_dropped": duplicates,
            "rounds": rollouts.rounds,
            **method_stats,
            **runner.stats.as_dict(),
        }
        stats["wall_time_s"] = round(time.perf_counter() - started, 3)
        runner.check_errors()  # a run whose calls mostly failed writes no version
        version = commit_version(
            catalog,
            name=config.name,
            kind="stepwise",
            config=config.model_dump(mode="json"),
            records={"problems": problems, "solutions": solutions, "steps": _unique_steps(steps),
                     "prefix_values": _unique_values(values)},
            rows={"step_labels": step_label_rows(labelled)},
            row_ids=[r.id for r in labelled],
            decisions=[],
            stats=stats,
            flow_run_id=str(flow_run.id) if flow_run.id else None,
        )
        publish_version_artifacts(catalog, version)  # the run's summary as Prefect artifacts
    return summary(version)


def _one_row_per_solution(labelled: list[LabelledSolution]) -> tuple[list[LabelledSolution], int]:
    """One row per solution (the first): a version's row_count is its number of distinct rows. The searches
    never label a solution twice; the count of rows dropped here is reported (and expected to be 0)."""
    first: dict[str, LabelledSolution] = {}
    for row in labelled:
        first.setdefault(row.solution_id, row)
    return list(first.values()), len(labelled) - len(first)


def _unique_steps(steps: list[Step]) -> list[Step]:
    return list({(s.solution_id, s.index): s for s in steps}.values())


def _unique_values(values: list[PrefixValue]) -> list[PrefixValue]:
    return list({(v.problem_id, v.prefix_hash): v for v in values}.values())
