"""OmegaPRM on hand-built trees and on the simulated policy: first error found, (state, rollout) pairs used
once, budget respected, memoised prefixes never re-sampled, many problems batched together."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from prefsynth.schemas.process import (
    OmegaPRMConfig, PrefixValue, Problem, Rollout, RolloutRequest, first_error_index, prefix_hash,
)
from prefsynth.tasks.search.omegaprm import OmegaPRMResult, OmegaPRMSearch, run_omegaprm

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from sim_policy import SimPolicy, make_problems

PROBLEM = Problem.create("toy question", "1")
GOOD = Rollout("fine\n\nThe answer is 1", True, 5)
WRONG_TAIL = Rollout("oops\n\nThe answer is 0", False, 5)


def solution_text(n_steps: int, bad_at: int | None) -> str:
    """Steps s0, s1, ...; step `bad_at` is "BAD" (and every step after it is wrong too)."""
    steps = ["BAD" if i == bad_at else f"s{i}" for i in range(n_steps)]
    return "\n\n".join(steps)


class ToyWorld:
    """Screening returns the given rollouts; a prefix holding "BAD" only has wrong continuations, any other
    prefix returns `from_good` (default: all correct)."""

    def __init__(self, screening: list[Rollout], from_good: list[Rollout] | None = None) -> None:
        self.screening, self.from_good = screening, from_good
        self.requests: list[RolloutRequest] = []
        self.calls = 0

    def __call__(self, requests: list[RolloutRequest]) -> list[list[Rollout]]:
        self.calls += 1
        self.requests.extend(requests)
        return [self._answer(r) for r in requests]

    def _answer(self, request: RolloutRequest) -> list[Rollout]:
        if request.prefix == "":
            return self.screening[: request.k]
        if "BAD" in request.prefix:
            return [WRONG_TAIL] * request.k
        return (self.from_good or [GOOD] * request.k)[: request.k]


def wrong(n_steps: int, bad_at: int | None, n_tokens: int = 10) -> Rollout:
    return Rollout(solution_text(n_steps, bad_at), False, n_tokens)


def one_search(world: ToyWorld, lookup=None, **config) -> OmegaPRMResult:
    (result,) = run_omegaprm([PROBLEM], world, OmegaPRMConfig(**config), model="toy", lookup=lookup)
    return result


@pytest.mark.parametrize("n_steps", range(1, 10))
def test_binary_search_lands_on_first_wrong_step(n_steps: int) -> None:
    for bad_at in range(n_steps):
        world = ToyWorld([GOOD] * 7 + [wrong(n_steps, bad_at)])
        search = one_search(world, max_searches=1)
        (path,) = search.paths
        assert path.status == "located" and path.first_error == bad_at
        assert first_error_index(list(path.labels)) == bad_at
        probes = [r.prefix for r in world.requests if r.prefix]
        assert len(probes) <= (n_steps - 1).bit_length()  # ceil(log2(n)) estimates
        _assert_probes_extend_correct_prefix(probes, path.solution.text)


def _assert_probes_extend_correct_prefix(probes: list[str], text: str) -> None:
    """Each probe continues the longest prefix known to be correct, inside the searched solution."""
    correct = ""
    for prefix in probes:
        assert text.startswith(prefix) and prefix.startswith(correct)
        if "BAD" not in prefix:
            correct = prefix


def test_path_labels_counts_parent_mc_and_offsets() -> None:
    world = ToyWorld([GOOD] * 6 + [wrong(8, 5)] * 2)
    (path,) = one_search(world, max_searches=1).paths
    text = path.solution.text
    assert "".join(s.text for s in path.steps) == text
    assert all(text[s.start : s.end] == s.text for s in path.steps)
    by_step = {label.step_index: label for label in path.labels}
    error = by_step[5]
    assert (error.n_correct, error.n_rollouts) == (0, 8)
    assert error.parent_mc == by_step[4].mc == 1.0  # the step before the error was estimated: lo = hi - 1
    assert by_step[7].n_rollouts == 1 and by_step[7].n_correct == 0  # the finished wrong rollout itself
    assert all(label.n_correct > 0 for label in path.labels if label.step_index < 5)
    assert path.solution.correct is False and path.state_prefix == ""


def test_each_state_rollout_pair_is_selected_at_most_once() -> None:
    # Identical wrong rollouts everywhere: the pool must dedupe them and never re-queue a selected pair.
    same_wrong = wrong(6, 3)
    world = ToyWorld([same_wrong] * 4 + [GOOD] * 4, from_good=[GOOD] * 4 + [Rollout("BAD\n\nz", False, 3)] * 4)
    result = one_search(world, max_searches=1000, max_estimates=1000)
    pairs = [(p.state_prefix, p.solution.text) for p in result.paths]
    assert len(pairs) == len(set(pairs))
    assert result.stats.stop_reason == "pool_empty"
    # One candidate at the root (four copies of one rollout) plus one per correct probe (MC 1/2) it made.
    correct_probes = [r.prefix for r in world.requests if r.prefix and "BAD" not in r.prefix]
    assert result.stats.searches == len(result.paths) == 1 + len(correct_probes)
    prefixes = Counter(r.prefix for r in world.requests)
    assert max(prefixes.values()) == 1, "no prefix is sampled twice"


def test_selection_prefers_short_rollouts_then_confident_states() -> None:
    # Root MC = 0.5: among its wrong rollouts the shortest has the largest beta^(len/L) term.
    long_, short = wrong(4, 2, n_tokens=900), wrong(4, 1, n_tokens=50)
    world = ToyWorld([GOOD] * 4 + [long_, short, long_, long_])
    (path,) = one_search(world, max_searches=1).paths
    assert path.solution.text == short.text
    # A probe with MC 7/8 and a wrong rollout: Q = 0.5^(1/8) beats the root's 0.5^(1/2) plus U.
    mostly_good = [GOOD] * 7 + [Rollout("t\n\nBAD", False, 50)]
    world = ToyWorld([GOOD] * 4 + [wrong(4, 3, 50)] * 4, from_good=mostly_good)
    first, second = one_search(world, max_searches=2).paths
    assert second.state_prefix != "" and first.solution.text.startswith(second.state_prefix)


def test_all_correct_screening_has_nothing_to_locate() -> None:
    world = ToyWorld([GOOD] * 8)
    result = one_search(world)
    assert result.stats.stop_reason == "all_correct"
    assert result.stats.estimates == 1 and not result.paths
    assert len(result.screening) == 8 and all(s.correct for s in result.screening)
    assert [(v.n_correct, v.n_rollouts) for v in result.prefix_values] == [(8, 8)]


def test_all_wrong_screening_is_searched_when_asked() -> None:
    world = ToyWorld([wrong(5, 0)] + [wrong(5, 2)] * 7)
    result = one_search(world, search_all_wrong=True)
    assert result.prefix_values[0].n_correct == 0
    located = {p.solution.text: p.first_error for p in result.paths if p.state_prefix == ""}
    assert located == {solution_text(5, 0): 0, solution_text(5, 2): 2}
    first_step_error = next(p for p in result.paths if p.first_error == 0)
    assert first_step_error.labels[0].parent_mc == 0.0  # the root's MC


def test_rollouts_with_unknown_outcome_are_not_searched() -> None:
    timed_out = Rollout(solution_text(5, 2), False, 10, None, "timeout")
    result = one_search(ToyWorld([GOOD] * 4 + [timed_out] * 4))
    # Every known rollout is correct: the timed-out ones count neither way, so nothing is left to locate.
    assert result.paths == () and result.stats.stop_reason == "all_correct"
    assert (result.prefix_values[0].n_correct, result.prefix_values[0].n_rollouts) == (4, 4)
    assert {s.correct for s in result.screening} == {True, None}


def test_empty_engine_answers_are_reported_not_guessed() -> None:
    class Failing(ToyWorld):
        def _answer(self, request: RolloutRequest) -> list[Rollout]:
            return [] if request.prefix else super()._answer(request)

    result = one_search(Failing([GOOD] * 7 + [wrong(6, 4)]), max_searches=1)
    (path,) = result.paths
    assert path.status == "probe_failed" and path.first_error is None and path.labels == ()
    screening_down = one_search(ToyWorld([]))
    assert screening_down.stats.stop_reason == "screening_failed"


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 8, 13, 40])
def test_budget_is_never_exceeded(budget: int) -> None:
    problems = make_problems(25, seed=3, p_min=0.05, p_max=0.3)
    policy = SimPolicy(problems, seed=1)
    config = OmegaPRMConfig(max_estimates=budget, max_searches=1000)
    results = run_omegaprm([cp.problem for cp in problems], policy, config, model="sim")
    per_problem = Counter(request.problem_id for request, _ in policy.log)
    for result in results:
        assert per_problem[result.problem_id] == result.stats.estimates <= budget
        assert result.stats.rollouts <= budget * config.k


def test_no_prefix_is_sampled_twice_and_memo_hits_are_not_resampled() -> None:
    problems = make_problems(15, seed=5, p_min=0.05, p_max=0.25)
    config = OmegaPRMConfig(max_estimates=60)
    first_policy = SimPolicy(problems, seed=2)
    first = run_omegaprm([cp.problem for cp in problems], first_policy, config, model="sim")
    asked = Counter((r.problem_id, r.prefix, r.draw) for r, _ in first_policy.log)
    assert max(asked.values()) == 1  # a prefix is drawn again only as a further draw (new samples)

    memo = {(v.problem_id, v.prefix_hash): v for res in first for v in res.prefix_values}
    lookups: list[tuple[str, str]] = []

    def lookup(problem_id: str, key: str) -> PrefixValue | None:
        lookups.append((problem_id, key))
        return memo.get((problem_id, key))

    second_policy = SimPolicy(problems, seed=2)
    second = run_omegaprm([cp.problem for cp in problems], second_policy, config, model="sim", lookup=lookup)
    resampled = [(r.problem_id, r.prefix) for r, _ in second_policy.log
                 if r.prefix and (r.problem_id, prefix_hash(r.prefix, "sim")) in memo]
    assert resampled == []
    assert sum(r.stats.memo_hits for r in second) > 0
    assert all(key[1] != prefix_hash("", "sim") for key in lookups), "screening is always sampled"


def _memo_on(prefix: str, n_correct: int, n_rollouts: int, verdict=None):
    value = PrefixValue(problem_id=PROBLEM.id, prefix_hash=prefix_hash(prefix, "toy"), n_correct=n_correct,
                        n_rollouts=n_rollouts, verdict=verdict)
    return lambda problem_id, key: value if (problem_id, key) == (PROBLEM.id, value.prefix_hash) else None


def _search_with_memo(lookup) -> tuple[OmegaPRMResult, ToyWorld]:
    """One binary search over a 4-step wrong rollout whose step 3 is BAD; the world finds s0..s2 correct."""
    world = ToyWorld([GOOD] * 7 + [wrong(4, 3)])
    return one_search(world, lookup, max_searches=1), world


def test_a_memo_hit_reuses_its_stored_verdict() -> None:
    """Review of the sequential estimation: a memoised prefix is judged by the verdict stored with it (1 of 2
    judged "error" on its own path), not by a verdict forced on its small counts; and it is not sampled."""
    memo_prefix = "s0\n\ns1\n\n"  # the binary search's first probe (mid = 2 of 4)
    search, world = _search_with_memo(_memo_on(memo_prefix, 1, 2, verdict="error"))
    (path,) = search.paths
    assert path.first_error == 1  # hi moved to the memoised prefix, then s0 was found correct
    assert memo_prefix not in [r.prefix for r in world.requests]
    assert search.stats.memo_hits == 1


def test_a_stored_value_without_a_verdict_is_never_forced() -> None:
    """A stored value with no verdict (mc-mode estimates, older builds) whose counts the sequential test cannot
    decide (1 of 3) is estimated afresh, as a prefix without a memo would be: never forced to a verdict."""
    memo_prefix = "s0\n\ns1\n\n"
    search, world = _search_with_memo(_memo_on(memo_prefix, 1, 3))
    (path,) = search.paths
    assert path.first_error == 3 and memo_prefix in [r.prefix for r in world.requests]
    assert search.stats.memo_hits == 0
    decided, _ = _search_with_memo(_memo_on(memo_prefix, 3, 3))  # decisive counts are used as they are
    assert decided.stats.memo_hits == 1 and decided.paths[0].first_error == 3


def test_sampled_prefix_values_carry_the_verdict_a_test_made() -> None:
    search, _ = _search_with_memo(None)
    verdicts = {v.prefix_hash: v.verdict for v in search.prefix_values}
    assert verdicts[prefix_hash("", "toy")] is None  # screening: no test
    assert verdicts[prefix_hash("s0\n\ns1\n\n", "toy")] == "correct"


def test_many_problems_advance_together_and_match_solo_runs() -> None:
    problems = make_problems(12, seed=7, p_min=0.05, p_max=0.3)
    config = OmegaPRMConfig(max_estimates=30)
    policy = SimPolicy(problems, seed=4)
    batch_sizes: list[int] = []

    def counted(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        assert len({r.problem_id for r in requests}) == len(requests), "one request per problem per call"
        batch_sizes.append(len(requests))
        return policy(requests)

    together = run_omegaprm([cp.problem for cp in problems], counted, config, model="sim")
    assert batch_sizes[0] == len(problems)
    assert len(batch_sizes) == max(r.stats.estimates for r in together)
    for cp, result in zip(problems, together, strict=True):
        (alone,) = run_omegaprm([cp.problem], SimPolicy(problems, seed=4), config, model="sim")
        assert [(p.solution.text, p.first_error) for p in alone.paths] == \
            [(p.solution.text, p.first_error) for p in result.paths]


def test_located_errors_match_ground_truth_when_estimates_are_exact() -> None:
    # With k large, MC(prefix) > 0 exactly when the prefix is right, so every located error is the true one.
    problems = make_problems(10, seed=11, min_steps=4, max_steps=8, p_min=0.05, p_max=0.1)
    policy = SimPolicy(problems, seed=0)
    results = run_omegaprm([cp.problem for cp in problems], policy, OmegaPRMConfig(k=64, max_estimates=20),
                           model="sim")
    paths = [(r.problem_id, p) for r in results for p in r.paths]
    assert paths
    for problem_id, path in paths:
        assert path.first_error == policy.true_first_error(problem_id, path.solution.text)


def test_searches_are_state_machines() -> None:
    search = OmegaPRMSearch(PROBLEM, "toy", OmegaPRMConfig(max_searches=1))
    assert search.request == RolloutRequest(PROBLEM.id, "", 8)
    search.send([GOOD] * 8)
    assert search.done and search.result().stats.stop_reason == "all_correct"
    with pytest.raises(RuntimeError):
        search.send([GOOD])
