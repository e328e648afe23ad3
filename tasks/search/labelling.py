"""Step labels for a group of problems: solve → split into steps → search → labelled solutions.

The stage logic of `prefsynth label-steps`, one function per method, each running its method's one driver
(`omegaprm.run_omegaprm`, `math_shepherd.run_math_shepherd`: the drivers the tests and benchmarks run):
- OmegaPRM (Luo et al. 2024, arXiv:2406.06592): solving is the search's screening and splitting happens inside
  it; a row per searched rollout whose first error was located.
- Math-Shepherd (Wang et al. 2024, arXiv:2312.08935): `solutions_per_problem` solutions per problem are sampled
  in one round, split into steps, and every step labelled in a second round.

A group is any subset of problems: problems never share rollouts, memo keys or solutions, so labelling all
problems at once (lockstep rounds) and labelling them in groups that run at the same time
(flows/process_labels.py, server engines) give the same records; `StepLabelRun.merge` joins the groups' runs
in problem order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ...schemas.process import (
    LabelledSolution, LabelMethod, MathShepherdConfig, OmegaPRMConfig, PrefixLookup, PrefixValue, Problem,
    Rollout, RolloutRequest, Solution, Step, StepLabel,
)
from ..steps import is_default_split, make_steps
from . import math_shepherd, omegaprm

RolloutBatchFn = Callable[[list[RolloutRequest]], list[list[Rollout]]]


@dataclass
class StepLabelRun:
    """What labelling some problems produced: the version's rows (`labelled`, one per solution), the records
    behind them, and the figures of the build summary (schemas/stats.py `StepwiseStats`).

    `rounds` is the longest chain of rollout rounds one problem went through: with lockstep rounds, the number
    of engine batches. The OmegaPRM counts are per problem, summed (`stop_reasons`, `paths`: by status);
    `incomplete` counts Math-Shepherd solutions with a step never estimated."""

    labelled: list[LabelledSolution] = field(default_factory=list)
    solutions: list[Solution] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    prefix_values: list[PrefixValue] = field(default_factory=list)
    rounds: int = 0
    stop_reasons: Counter[str] = field(default_factory=Counter)
    paths: Counter[str] = field(default_factory=Counter)
    estimates: int = 0
    rollouts_requested: int = 0
    extra_draws: int = 0
    incomplete: int = 0

    @classmethod
    def merge(cls, runs: Sequence[StepLabelRun]) -> StepLabelRun:
        """The runs of disjoint groups of problems as one run, records in the order of the runs."""
        out = cls()
        for run in runs:
            out.labelled += run.labelled
            out.solutions += run.solutions
            out.steps += run.steps
            out.prefix_values += run.prefix_values
            out.rounds = max(out.rounds, run.rounds)
            out.stop_reasons.update(run.stop_reasons)
            out.paths.update(run.paths)
            out.estimates += run.estimates
            out.rollouts_requested += run.rollouts_requested
            out.extra_draws += run.extra_draws
            out.incomplete += run.incomplete
        return out

    def deduplicated(self) -> tuple[StepLabelRun, int]:
        """One row per solution (the first; the searches never label one twice, so the count of rows dropped,
        also returned, is expected to be 0) and each record once: a version's row_count is its distinct rows."""
        first: dict[str, LabelledSolution] = {}
        for row in self.labelled:
            first.setdefault(row.solution_id, row)
        dropped = len(self.labelled) - len(first)
        unique = replace(
            self,
            labelled=list(first.values()),
            solutions=list({s.id: s for s in self.solutions}.values()),
            steps=list({(s.solution_id, s.split_id, s.index): s for s in self.steps}.values()),
            prefix_values=list({(v.problem_id, v.prefix_hash): v for v in self.prefix_values}.values()),
        )
        return unique, dropped

    def figures(self, method: str, problems: int, duplicates_dropped: int) -> dict:
        """The build summary's own figures (the call counts and wall time are the build context's), with the
        keys stored since the process-label flow began."""
        base = {
            "problems": problems,
            "method": method,
            "solutions": dict(Counter(s.check_status for s in self.solutions)),
            "labelled_solutions": len(self.labelled),
            "labelled_steps": sum(len(r.labels) for r in self.labelled),
            "with_error": sum(r.first_error is not None for r in self.labelled),
            "duplicate_rows_dropped": duplicates_dropped,
            "rounds": self.rounds,
        }
        if method == "omegaprm":
            return base | {"stop_reasons": dict(self.stop_reasons), "paths": dict(self.paths),
                           "estimates": self.estimates, "rollouts_requested": self.rollouts_requested,
                           "extra_draws": self.extra_draws}
        return base | {"incomplete": self.incomplete}


def label_with_omegaprm(problems: Sequence[Problem], rollouts: RolloutBatchFn, config: OmegaPRMConfig, *,
                        model: str, lookup: PrefixLookup | None = None) -> StepLabelRun:
    """Search every problem (screening = its solutions); rows: the searched rollouts whose error was located."""
    results = omegaprm.run_omegaprm(problems, rollouts, config, model=model, lookup=lookup)
    run = StepLabelRun(rounds=max((r.stats.estimates for r in results), default=0))
    for res in results:
        run.solutions += [*res.screening, *res.rollouts]
        run.prefix_values += res.prefix_values
        run.stop_reasons[res.stats.stop_reason] += 1
        run.estimates += res.stats.estimates
        run.rollouts_requested += res.stats.spent  # what the budget counts
        run.extra_draws += res.stats.extra_draws  # sequential estimation's further draws
        for path in res.paths:
            run.paths[path.status] += 1
            if path.status == "located":
                run.solutions.append(path.solution)
                run.steps += path.steps
                run.labelled.append(labelled_row(path.solution, "omegaprm", path.steps, path.labels))
    return run


def label_with_math_shepherd(problems: Sequence[Problem], rollouts: RolloutBatchFn, config: MathShepherdConfig,
                             *, model: str, solutions_per_problem: int,
                             lookup: PrefixLookup | None = None) -> StepLabelRun:
    """Solve (one round), split into steps, label every step (one round); rows: the fully labelled solutions."""
    solutions = solve(problems, rollouts, solutions_per_problem, model)
    steps = {s.id: make_steps(s.id, s.text, config.step_separator) for s in solutions}
    result = math_shepherd.run_math_shepherd(solutions, rollouts, config, completer=model, lookup=lookup,
                                             steps=steps)
    complete = [item for item in result.labelled if not item.missing and item.steps]
    return StepLabelRun(
        labelled=[labelled_row(i.solution, "math_shepherd", i.steps, i.labels) for i in complete],
        solutions=solutions,
        steps=[st for item in complete for st in steps[item.solution.id]],
        prefix_values=list(result.prefix_values),
        rounds=1 + (result.stats.requests > 0),
        incomplete=sum(1 for item in result.labelled if item.missing),
    )


def labelled_row(solution: Solution, method: LabelMethod, steps: Sequence[Step],
                 labels: tuple[StepLabel, ...]) -> LabelledSolution:
    """A version's row: the labels and the split they are on (a split other than the default separator's is
    part of the row's id: the same counts on other steps are another row)."""
    return LabelledSolution.create(solution.id, method, len(steps), labels, split_id=steps[0].split_id,
                                   named_split=not is_default_split(solution.text, steps))


def solve(problems: Sequence[Problem], rollouts: RolloutBatchFn, n: int, model: str) -> list[Solution]:
    """`n` sampled solutions per problem (a continuation of the empty prefix), each once, in problem order."""
    sampled = rollouts([RolloutRequest(p.id, "", n) for p in problems])
    solutions = [
        Solution.create(p.id, model, r.text, r.final_answer, r.check_status)
        for p, rs in zip(problems, sampled, strict=True)
        for r in rs
    ]
    return list({s.id: s for s in solutions}.values())
