"""Labelling groups of problems (tasks/search/labelling.py): problems in groups, merged, give exactly the records
and figures of all problems at once — what lets server builds run each problem's rounds on their own."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prefsynth.schemas.process import MathShepherdConfig, OmegaPRMConfig
from prefsynth.tasks.search.labelling import StepLabelRun, label_with_math_shepherd, label_with_omegaprm

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_policy import Noise, SimPolicy, make_problems


def label(method: str, problems, policy) -> StepLabelRun:
    if method == "omegaprm":
        return label_with_omegaprm(problems, policy, OmegaPRMConfig(k=4, max_estimates=12), model="sim")
    return label_with_math_shepherd(problems, policy, MathShepherdConfig(n=4), model="sim", solutions_per_problem=2)


@pytest.mark.parametrize("method", ["omegaprm", "math_shepherd"])
def test_groups_merged_give_the_records_of_all_problems_at_once(method: str) -> None:
    chains = make_problems(8, seed=4, p_min=0.1, p_max=0.3)
    problems = [cp.problem for cp in chains]
    together = label(method, problems, SimPolicy(chains, seed=1, noise=Noise.honest()))
    apart = StepLabelRun.merge([label(method, [p], SimPolicy(chains, seed=1, noise=Noise.honest()))
                                for p in reversed(problems)][::-1])
    assert together.labelled and [r.id for r in apart.labelled] == [r.id for r in together.labelled]
    assert apart.solutions == together.solutions and apart.steps == together.steps
    assert apart.prefix_values == together.prefix_values
    dedup_apart, dropped_apart = apart.deduplicated()
    dedup_together, dropped_together = together.deduplicated()
    assert dedup_apart.figures(method, 8, dropped_apart) == dedup_together.figures(method, 8, dropped_together)


def test_rounds_count_the_lockstep_batches() -> None:
    """`rounds` is the longest chain of rounds of one problem: with lockstep rounds, the engine calls made."""
    chains = make_problems(6, seed=2, p_min=0.1, p_max=0.3)
    for method in ("omegaprm", "math_shepherd"):
        policy = SimPolicy(chains, seed=3)
        run = label(method, [cp.problem for cp in chains], policy)
        assert run.rounds == policy.calls > 1
