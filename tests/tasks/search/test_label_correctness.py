"""Regression tests of issue 12 ("correct labels"), process-label items: unknown is not wrong, no duplicate
labelled solutions, one rule for first errors and hard labels. Each test names the item it pins."""

from __future__ import annotations

from prefsynth.schemas.engine import Completion, GenResult
from prefsynth.schemas.process import (
    LabelledSolution, MathShepherdConfig, OmegaPRMConfig, Problem, Rollout, RolloutRequest, Solution, StepLabel,
)
from prefsynth.storage.formats.stepwise import trl_stepwise
from prefsynth.tasks.answers import AnswerCheck, check_answer
from prefsynth.tasks.labels import derive, truncate_after_first_error
from prefsynth.tasks.rollouts import to_rollouts
from prefsynth.tasks.search.math_shepherd import run_math_shepherd
from prefsynth.tasks.search.omegaprm import run_omegaprm

PROBLEM = Problem.create("toy question", "1")
GOOD = Rollout("fine\n\nThe answer is 1", True, 5, "1", "correct")


def wrong_text(n_steps: int, bad_at: int) -> str:
    return "\n\n".join("BAD" if i == bad_at else f"s{i}" for i in range(n_steps)) + "\n\nThe answer is 0"


def wrong(text: str) -> Rollout:
    return Rollout(text, False, 10, "0", "incorrect")


class PlainChecker:
    """The exact checker without math-verify; records what text it was asked to check."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    def check(self, solution_text: str, gold: str) -> AnswerCheck:
        self.checked.append(solution_text)
        return check_answer(solution_text, gold)


def search(world, **config):
    (result,) = run_omegaprm([PROBLEM], world, OmegaPRMConfig(**config), model="toy")
    return result


# -- item 2 (rollout half) ------------------------------------------------------------------------------------
def test_rollout_is_judged_by_the_continuations_own_answer() -> None:
    """issue 12 item 2 (rollouts): the continuation's own stated answer decides (a \\boxed{7} in the prefix
    cannot: `to_rollouts` is not even given the prefix)."""
    result = GenResult(completions=[Completion(text="Recount: 4 + 4 = 8.\n\nThe answer is 8.")])
    (rollout,) = to_rollouts(result, "8", PlainChecker())
    assert (rollout.final_answer, rollout.check_status, rollout.correct) == ("8", "correct", True)


def test_an_answerless_continuation_is_not_judged_by_its_prefix() -> None:
    """issue 12 item 2 rule, review of the rollout fix: a continuation that states no answer is checked on its
    own text (unparseable), never as prefix + continuation, where an answer in the prefix would stand in for
    it (say the prefix was "A first guess: the answer is 1."); the checker sees each continuation once."""
    result = GenResult(completions=[Completion(text="Let me check that again.")])
    checker = PlainChecker()
    (rollout,) = to_rollouts(result, "1", checker)
    assert (rollout.final_answer, rollout.check_status, rollout.correct) == (None, "unparseable", False)
    assert checker.checked == ["Let me check that again."]


# -- item 3 ---------------------------------------------------------------------------------------------------
def test_checker_timeouts_are_left_out_of_omegaprm_estimates() -> None:
    """issue 12 item 3 (OmegaPRM): a prefix whose checks all timed out is a failed probe, not MC = 0, and
    unknown rollouts count in neither n_correct nor n_rollouts."""
    text = wrong_text(4, 2)
    timed_out = Rollout("x\n\nThe answer is 1", False, 5, "1", "timeout")

    def world(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        return [[GOOD] * 4 + [wrong(text)] * 2 + [timed_out] * 2 if r.prefix == "" else [timed_out] * r.k
                for r in requests]

    result = search(world, max_searches=1)
    root = result.prefix_values[0]
    assert (root.n_correct, root.n_rollouts) == (4, 6)
    (path,) = result.paths
    assert path.status == "probe_failed" and path.first_error is None and path.labels == ()


def test_checker_timeouts_are_left_out_of_math_shepherd_estimates() -> None:
    """issue 12 item 3 (Math-Shepherd): unknown completions are not failures; all unknown = step unlabelled."""
    text = "a = 1\n\nb = 2\n\nThe answer is 0."
    solution = Solution.create(PROBLEM.id, "w", text, "0", "incorrect")
    timed_out = Rollout("x", False, 3, None, "timeout")

    def world(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        return [[GOOD, timed_out, timed_out] if r.prefix == "a = 1\n\n" else [timed_out] * 3 for r in requests]

    (item,) = run_math_shepherd([solution], world, MathShepherdConfig(n=3), completer="p").labelled
    first = item.labels[0]
    assert (first.step_index, first.n_correct, first.n_rollouts) == (0, 1, 1)
    assert item.missing == (1,) and item.first_error == 2  # step 1: no known rollout → unlabelled, not MC 0


# -- item 4 ---------------------------------------------------------------------------------------------------
def test_truncated_continuations_are_unknown_never_wrong() -> None:
    """issue 12 item 4: a continuation cut at max_tokens (finish_reason "length") is unknown: not wrong, not
    pooled, not in the estimate."""
    result = GenResult(completions=[
        Completion(text="s1\n\nThe answer is 1.", finish_reason="stop", completion_tokens=6),
        Completion(text="s1\n\nso we get the va", finish_reason="length", completion_tokens=6),
    ])
    done, cut = to_rollouts(result, "1", PlainChecker())
    assert done.check_status == "correct"
    assert cut.check_status == "truncated" and cut.final_answer is None
    assert Solution.create(PROBLEM.id, "m", "s0\n\n" + cut.text, None, cut.check_status).correct is None

    truncated = Rollout(wrong_text(5, 1), False, 10, None, "truncated")
    outcome = search(lambda reqs: [[GOOD] * 4 + [truncated] * 4 for _ in reqs])
    assert outcome.paths == ()
    assert (outcome.prefix_values[0].n_correct, outcome.prefix_values[0].n_rollouts) == (4, 4)


# -- item 5 ---------------------------------------------------------------------------------------------------
def test_all_wrong_screening_stops_unless_asked() -> None:
    """issue 12 item 5: every screening rollout wrong → stop reason all_wrong, nothing labelled; a config
    option still searches such questions."""
    texts = [wrong_text(5, 0)] + [wrong_text(5, 2)] * 7

    def world(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        return [[wrong(t) for t in texts] if r.prefix == "" else [wrong("BAD\n\nThe answer is 0")] * r.k
                for r in requests]

    stopped = search(world)
    assert stopped.stats.stop_reason == "all_wrong" and stopped.paths == ()
    searched = search(world, search_all_wrong=True)
    assert searched.paths and searched.stats.stop_reason != "all_wrong"


# -- item 6 ---------------------------------------------------------------------------------------------------
def labelled(n_steps: int, counts: dict[int, tuple[int, int]], method: str = "omegaprm") -> LabelledSolution:
    labels = tuple(StepLabel(solution_id="s", step_index=i, method=method, n_correct=c, n_rollouts=n)
                   for i, (c, n) in sorted(counts.items()))
    return LabelledSolution.create("s", method, n_steps, labels)


def test_unestimated_steps_export_null_values_and_an_estimated_flag() -> None:
    """issue 12 item 6: steps never estimated get mc None (not 0.0) and estimated False; the export can cut
    each row after its first error."""
    row = labelled(5, {1: (6, 8), 3: (0, 8)})
    derived = derive(row)
    assert derived.mc == [None, 0.75, None, 0.0, None]
    assert derived.estimated == [False, True, False, True, False]
    assert derived.hard == [True, True, True, False, False]
    out = trl_stepwise("q", ["a", "b", "c", "d", "e"], derived)
    assert out["estimated"] == derived.estimated and out["mc_values"][4] is None
    cut_labels = truncate_after_first_error(derived)
    cut = trl_stepwise("q", ["a", "b", "c", "d", "e"][: len(cut_labels.hard)], cut_labels)
    assert cut["completions"] == ["a", "b", "c", "d"] and cut["labels"] == [True, True, True, False]
    assert cut["mc_values"] == [None, 0.75, None, 0.0] and cut["estimated"] == [False, True, False, True]


# -- item 7 ---------------------------------------------------------------------------------------------------
def test_label_threshold_moves_first_error_and_labels_together() -> None:
    """issue 12 item 7: with --label-threshold > 0 the first error and the hard labels follow one rule, and
    labels stay monotone (correct up to the first error, wrong from it on)."""
    row = labelled(4, {0: (6, 8), 1: (3, 8), 2: (5, 8), 3: (0, 1)}, method="math_shepherd")
    at_zero, at_half = derive(row), derive(row, threshold=0.5)
    assert at_zero.first_error == 3 and at_zero.hard == [True, True, True, False]
    assert at_half.first_error == 1 and at_half.hard == [True, False, False, False]


# -- item 8 ---------------------------------------------------------------------------------------------------
def test_the_same_solution_text_is_never_selected_twice() -> None:
    """issue 12 item 8: a wrong rollout from a deeper state can spell the very same full solution as one
    already pooled; the pool keys by the full text, so it is searched (and labelled) once."""
    text = wrong_text(6, 2)

    def world(requests: list[RolloutRequest]) -> list[list[Rollout]]:
        answers = []
        for r in requests:
            if "BAD" in r.prefix:
                answers.append([wrong("t\n\nThe answer is 0")] * r.k)
            else:  # half correct, half the remainder of the same wrong solution
                answers.append([GOOD] * 4 + [wrong(text[len(r.prefix):])] * 4)
        return answers

    result = search(world, max_searches=50)
    texts = [p.solution.text for p in result.paths]
    assert texts.count(text) == 1, texts
    assert len(texts) == len(set(texts))
