"""Math-Shepherd: N completions from every step prefix, hard = any correct, soft = c/N, one batch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from prefsynth.schemas.process import MathShepherdConfig, PrefixValue, Rollout, RolloutRequest, Solution, prefix_hash
from prefsynth.tasks.search.math_shepherd import MathShepherdBatch, run_math_shepherd

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_policy import SimPolicy, make_problems

TEXT = "a = 1\n\nb = 2\n\nc = 4\n\nThe answer is 4."
# How many of 4 completions succeed from the prefix that ends with step i (the last step is the solution).
SUCCESSES = {"a = 1\n\n": 3, "a = 1\n\nb = 2\n\n": 1, "a = 1\n\nb = 2\n\nc = 4\n\n": 0}


def scripted(requests: list[RolloutRequest]) -> list[list[Rollout]]:
    return [[Rollout("x", i < SUCCESSES[r.prefix], 7) for i in range(r.k)] for r in requests]


def solution(text: str = TEXT, status: str = "incorrect", problem_id: str = "p1") -> Solution:
    return Solution.create(problem_id, "writer", text, None, status)


def test_hard_and_soft_labels_from_every_prefix() -> None:
    result = run_math_shepherd([solution()], scripted, MathShepherdConfig(n=4), completer="policy")
    (labelled,) = result.labelled
    assert [(label.n_correct, label.n_rollouts) for label in labelled.labels] == [(3, 4), (1, 4), (0, 4), (0, 1)]
    assert [label.hard for label in labelled.labels] == [True, True, False, False]
    assert [label.mc for label in labelled.labels] == [0.75, 0.25, 0.0, 0.0]
    assert [label.parent_mc for label in labelled.labels] == [None, 0.75, 0.25, 0.0]
    assert labelled.first_error == 2 and labelled.missing == ()
    assert result.stats.requests == 3 and result.stats.rollouts == 12 and result.stats.generated_tokens == 84
    assert len(result.prefix_values) == 3


def test_last_step_is_the_solutions_own_outcome() -> None:
    correct = solution("only step. The answer is 4.", status="correct")
    unknown = solution("only step. The answer is 4?", status="timeout")
    result = run_math_shepherd([correct, unknown], scripted, completer="policy")
    first, second = result.labelled
    assert [(x.n_correct, x.n_rollouts) for x in first.labels] == [(1, 1)] and first.first_error is None
    assert second.labels == () and second.missing == (0,)
    assert result.stats.requests == 0


def test_shared_prefixes_are_asked_once_and_memo_is_not_resampled() -> None:
    twin = solution(TEXT.replace("The answer is 4.", "The answer is 4!"))
    memo = {("p1", prefix_hash("a = 1\n\n", "policy")): PrefixValue(problem_id="p1", prefix_hash="h", n_correct=5,
                                                                     n_rollouts=10)}
    batch = MathShepherdBatch([solution(), twin], "policy", MathShepherdConfig(n=4),
                              lookup=lambda pid, key: memo.get((pid, key)))
    assert [r.prefix for r in batch.requests] == ["a = 1\n\nb = 2\n\n", "a = 1\n\nb = 2\n\nc = 4\n\n"]
    assert batch.stats.memo_hits == 1 and batch.stats.shared_prefixes == 2
    result = batch.receive(scripted(batch.requests))
    assert result.labelled[0].labels[0].n_rollouts == 10  # the memoised estimate
    assert len(result.prefix_values) == 2  # only what was sampled


def test_failed_requests_leave_steps_unlabelled() -> None:
    batch = MathShepherdBatch([solution()], "policy", MathShepherdConfig(n=4))
    answers = scripted(batch.requests)
    answers[1] = []
    (labelled,) = batch.receive(answers).labelled
    assert labelled.missing == (1,)
    assert labelled.labels[1].step_index == 2 and labelled.labels[1].parent_mc is None


def test_answer_count_must_match_request_count() -> None:
    batch = MathShepherdBatch([solution()], "policy")
    with pytest.raises(ValueError):
        batch.receive([])


def test_labels_on_simulated_policy_are_consistent_with_ground_truth() -> None:
    problems = make_problems(20, seed=9, p_min=0.05, p_max=0.2)
    policy = SimPolicy(problems, seed=3)
    sampled = policy([RolloutRequest(cp.problem.id, "", 4) for cp in problems])
    solutions = [Solution.create(cp.problem.id, "sim", r.text, r.final_answer, r.check_status)
                 for cp, rollouts in zip(problems, sampled, strict=True) for r in rollouts]
    result = run_math_shepherd(solutions, policy, MathShepherdConfig(n=8), completer="sim")
    expected_requests = len({(s.problem_id, s.text[: st.end]) for item in result.labelled
                             for s, st in [(item.solution, step) for step in item.steps[:-1]]})
    assert result.stats.requests == expected_requests
    for item in result.labelled:
        truth = policy.true_first_error(item.solution.problem_id, item.solution.text)
        # A wrong prefix has no correct continuation, so a located error is never after the true one.
        if truth is not None:
            assert item.first_error is not None and item.first_error <= truth
        assert len(item.labels) == len(item.steps)
