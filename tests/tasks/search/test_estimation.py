"""Issue 16: OmegaPRM's sequential estimation (draw more where a verdict is uncertain, decide with a stated test),
its budget in rollouts, the paper's 32-then-8 screening, and the per-step evidence the export carries."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pytest

from prefsynth.schemas.process import LabelledSolution, OmegaPRMConfig, Problem, Rollout, RolloutRequest, StepLabel
from prefsynth.tasks.labels import derive, first_error_evidence
from prefsynth.tasks.rollouts import RolloutPolicy, rollout_request
from prefsynth.tasks.search.estimate import sprt_verdict, wilson
from prefsynth.tasks.search.omegaprm import run_omegaprm

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_policy import Noise, SimPolicy, make_problems

PROBLEM = Problem.create("toy question", "1")
N_STEPS, BAD_AT = 8, 1


def solution_text(n_steps: int, bad_at: int) -> str:
    return "\n\n".join("BAD" if i == bad_at else f"s{i}" for i in range(n_steps))


def good() -> Rollout:
    return Rollout("fine\n\nThe answer is 1", True, 5, "1", "correct")


def bad(text: str = "t\n\nThe answer is 0") -> Rollout:
    return Rollout(text, False, 5, "0", "incorrect")


class LuckyWorld:
    """A prefix that holds BAD still reaches the gold answer with probability `lucky` (a later slip cancels
    it); a correct prefix with r steps left with probability q^r. Random, but seeded by (trial, prefix, draw)."""

    def __init__(self, trial: int, lucky: float = 0.08, q: float = 0.85) -> None:
        self.trial, self.lucky, self.q = trial, lucky, q
        self.requests: list[RolloutRequest] = []

    def __call__(self, requests: list[RolloutRequest]) -> list[list[Rollout]]:
        self.requests += requests
        return [self._answer(r) for r in requests]

    def _answer(self, r: RolloutRequest) -> list[Rollout]:
        if r.prefix == "":  # screening: the searched wrong solution, and correct ones
            return [good()] * (r.k // 2) + [bad(solution_text(N_STEPS, BAD_AT))] * (r.k - r.k // 2)
        rng = random.Random(f"{self.trial}|{r.prefix}|{r.draw}")
        left = N_STEPS - r.prefix.count("\n\n")
        p = self.lucky if "BAD" in r.prefix else self.q ** left
        return [good() if rng.random() < p else bad() for _ in range(r.k)]


def located_share(estimation: str, trials: int = 150) -> float:
    hits = 0
    for trial in range(trials):
        (result,) = run_omegaprm([PROBLEM], LuckyWorld(trial), OmegaPRMConfig(estimation=estimation, max_searches=1),
                                 model="toy")
        (path,) = result.paths
        hits += path.first_error == BAD_AT
    return hits / trials


def test_early_error_with_lucky_completions_is_located_more_often_than_with_mc() -> None:
    """issue 16: a prefix with an early error and lucky completions is located correctly more often by the
    sequential test than by plain MC > 0."""
    sequential, plain = located_share("sequential"), located_share("mc")
    print(f"located exactly: sequential {sequential:.2f}, MC > 0 {plain:.2f}")
    assert plain < 0.7 < sequential, (sequential, plain)


def test_all_wrong_rollouts_with_many_steps_left_draw_more_before_an_error() -> None:
    """issue 16: k wrong rollouts while many steps remain are weak evidence: more are drawn; a correct
    rollout found then makes the prefix correct and sampling stops."""
    text = solution_text(16, 14)
    first_probe = "".join(f"s{i}\n\n" for i in range(8))  # the binary search's first mid: 8 of 16 steps

    def world(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        answers = []
        for r in requests:
            if r.prefix == "":  # root MC 1/32 with 16 steps left: a correct prefix is worth little
                answers.append([good()] + [bad(text)] * (r.k - 1))
            elif "BAD" in r.prefix:
                answers.append([bad()] * r.k)
            elif r.prefix == first_probe and r.draw == 0:  # unlucky: 8 wrong from a correct prefix
                answers.append([bad()] * r.k)
            else:
                answers.append([good()] * (r.k // 2) + [bad()] * (r.k - r.k // 2))
        return answers

    log: list[RolloutRequest] = []
    config = dict(k=8, screening_k=32, max_searches=1, max_estimates=200)
    (result,) = run_omegaprm([PROBLEM], lambda rs: (log.extend(rs), world(rs))[1],
                             OmegaPRMConfig(**config), model="toy")
    assert log[1].prefix == first_probe
    draws = [r.draw for r in log if r.prefix == first_probe]
    assert draws == [0, 1], draws  # drew again after 8 wrong, stopped once the test was sure
    assert result.paths[0].first_error == 14
    (plain,) = run_omegaprm([PROBLEM], world, OmegaPRMConfig(**config, estimation="mc"), model="toy")
    assert plain.paths[0].first_error < 14  # MC = 0 after one unlucky draw: the error is placed too early


@pytest.mark.parametrize("estimation", ["sequential", "mc"])
@pytest.mark.parametrize("budget", [1, 3, 8, 40])
def test_budget_counts_rollouts_and_is_never_exceeded(estimation: str, budget: int) -> None:
    """issue 16: max_estimates counts rollouts requested (in units of k), extra draws included, never exceeded."""
    problems = make_problems(20, seed=3, min_steps=3, max_steps=12, p_min=0.2, p_max=0.2)
    policy = SimPolicy(problems, seed=1, noise=Noise.honest())
    config = OmegaPRMConfig(k=4, max_k=16, max_estimates=budget, estimation=estimation)
    results = run_omegaprm([cp.problem for cp in problems], policy, config, model="sim")
    spent = Counter()
    for request, _ in policy.log:
        spent[request.problem_id] += request.k
    for result in results:
        assert spent[result.problem_id] == result.stats.spent <= budget * config.k


def test_paper_screening_32_then_8() -> None:
    """issue 16: optional paper screening (32 rollouts at the root, then 8 per estimate)."""
    problems = make_problems(5, seed=2, min_steps=4, max_steps=8, p_min=0.2, p_max=0.2)
    policy = SimPolicy(problems, seed=0, noise=Noise.honest())
    run_omegaprm([cp.problem for cp in problems], policy,
                 OmegaPRMConfig(k=8, screening_k=32, estimation="mc", max_estimates=40), model="sim")
    sizes = {(r.prefix == "", r.k) for r, _ in policy.log}
    assert sizes == {(True, 32), (False, 8)}
    with pytest.raises(ValueError, match="screening_k"):
        OmegaPRMConfig(k=8, screening_k=32, max_estimates=3)


def test_further_draws_of_a_prefix_get_their_own_seed() -> None:
    """issue 16: a further draw of the same prefix must not be served the first draw's samples by the cache."""
    policy = RolloutPolicy("e", 0.7, 1.0, 64, 0)
    first = rollout_request(policy, PROBLEM, RolloutRequest(PROBLEM.id, "s0\n\n", 8))
    again = rollout_request(policy, PROBLEM, RolloutRequest(PROBLEM.id, "s0\n\n", 8, draw=1))
    assert first.seed != again.seed and first.prompt == again.prompt


def test_sprt_and_wilson() -> None:
    """The stated test: wrong-only evidence is weak when a correct prefix is expected to be worth little."""
    assert sprt_verdict(0, 8, 0.6, 0.05, 0.05, final=False) == "error"
    assert sprt_verdict(0, 8, 0.12, 0.05, 0.05, final=False) is None  # draw more
    assert sprt_verdict(1, 8, 0.3, 0.05, 0.05, final=False) is None
    assert sprt_verdict(1, 8, 0.6, 0.05, 0.05, final=False) == "error"  # 1 of 8 where 0.6 was expected
    assert sprt_verdict(1, 32, 0.6, 0.05, 0.05, final=True) == "error"  # one lucky completion in 32
    low, high = wilson(0, 8)
    assert low == 0.0 and 0.3 < high < 0.33
    assert wilson(4, 8)[0] < 0.5 < wilson(4, 8)[1]


def test_export_carries_rollout_counts_intervals_and_first_error_evidence() -> None:
    """issue 16 item 3: per step the rollout count and Wilson interval beside mc_values; per solution how sure
    the first-error location is."""
    labels = (
        StepLabel(solution_id="s", step_index=1, method="omegaprm", n_correct=12, n_rollouts=16, verdict="correct"),
        StepLabel(solution_id="s", step_index=2, method="omegaprm", n_correct=1, n_rollouts=32, verdict="error"),
        StepLabel(solution_id="s", step_index=4, method="omegaprm", n_correct=0, n_rollouts=1),
    )
    row = LabelledSolution.create("s", "omegaprm", 5, labels)
    derived = derive(row)
    assert row.first_error == derived.first_error == 2  # the test's verdict, though one rollout was correct
    assert derived.hard == [True, True, False, False, False]
    assert derived.n_rollouts == [None, 16, 32, None, 1]
    assert derived.mc_lower[1] == pytest.approx(wilson(12, 16)[0]) and derived.mc_upper[0] is None
    evidence = first_error_evidence(row)
    assert evidence["before_lower"] == pytest.approx(wilson(12, 16)[0])
    assert evidence["at_upper"] == pytest.approx(wilson(1, 32)[1])
    assert evidence["separated"] is True
