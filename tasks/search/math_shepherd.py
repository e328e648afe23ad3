"""Math-Shepherd: per-step Monte Carlo labels from N completions of every step prefix.

Wang et al. 2024, "Math-Shepherd: Verify and Reinforce LLMs Step-by-step without Human Annotations",
arXiv:2312.08935.

For step i of a solution, N completions are sampled from the prefix that ends with step i; the soft label is
c/N (the paper's SE). The paper's per-step hard label ("some completion reached the gold answer", HE) is not
exported as such: tasks/labels.py derives hard labels by one monotone rule (false from the first error on). The prefix that ends with the last
step is the whole solution: a finished solution is its own single rollout, so its checked answer is that
step's label (0 or 1 of 1) and nothing is sampled for it. It is the baseline OmegaPRM is measured against.

Unknown is not wrong: completions whose check timed out or failed, or that were cut at max_tokens, count in
neither c nor N; a prefix with no known completion leaves its step unlabelled (`missing`), never MC = 0.

Batching: every prefix of every solution goes out in one batch of `RolloutRequest(problem, prefix, N)`;
identical (problem, prefix) pairs are asked once and prefixes known to the memo lookup are not asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ...schemas.process import (
    MathShepherdConfig, PrefixLookup, PrefixValue, Rollout, RolloutRequest, Solution, Step, StepLabel,
    first_error_index, prefix_hash,
)
from ..steps import make_steps

RolloutBatchFn = Callable[[list[RolloutRequest]], list[list[Rollout]]]
_Key = tuple[str, str]  # (problem_id, prefix)


@dataclass(frozen=True)
class ShepherdLabels:
    """The labels of one solution; `missing` lists steps left unlabelled (no completion with a known outcome,
    or a final answer whose check timed out or failed or that was cut at max_tokens)."""

    solution: Solution
    steps: tuple[Step, ...]
    labels: tuple[StepLabel, ...]
    first_error: int | None
    missing: tuple[int, ...]


@dataclass
class ShepherdStats:
    requests: int = 0  # engine requests sent, N completions each
    rollouts: int = 0  # completions received
    generated_tokens: int = 0
    memo_hits: int = 0  # prefixes answered by the injected lookup
    shared_prefixes: int = 0  # step prefixes served by a request made for another solution


@dataclass(frozen=True)
class MathShepherdResult:
    labelled: tuple[ShepherdLabels, ...]
    prefix_values: tuple[PrefixValue, ...]  # newly sampled estimates only
    stats: ShepherdStats


class MathShepherdBatch:
    """Labels for many solutions at once: send `requests`, pass their rollouts (in order) to `receive`.

    `completer` names the policy that samples the completions (it keys the memo: an MC value belongs to
    the completer, not to whoever wrote the solution)."""

    def __init__(self, solutions: Sequence[Solution], completer: str, config: MathShepherdConfig | None = None,
                 lookup: PrefixLookup | None = None, steps: Mapping[str, Sequence[Step]] | None = None) -> None:
        self.config = config or MathShepherdConfig()
        self.completer = completer
        self.stats = ShepherdStats()
        self._items = [(s, tuple(steps[s.id]) if steps and s.id in steps else
                        tuple(make_steps(s.id, s.text, self.config.step_separator))) for s in solutions]
        self._known: dict[_Key, tuple[int, int]] = {}
        self.requests: list[RolloutRequest] = self._plan(lookup)

    def _plan(self, lookup: PrefixLookup | None) -> list[RolloutRequest]:
        needed: dict[_Key, None] = {}
        for solution, steps in self._items:
            for key in self._memo_keys(solution, steps):
                if key in needed or key in self._known:
                    self.stats.shared_prefixes += key in needed
                    continue
                memo = lookup(key[0], prefix_hash(key[1], self.completer)) if lookup else None
                if memo is not None:
                    self.stats.memo_hits += bool(key[1])
                    self._known[key] = (memo.n_correct, memo.n_rollouts)
                elif key[1]:  # the empty prefix is only ever looked up, for step 0's parent MC
                    needed[key] = None
        self.stats.requests = len(needed)
        return [RolloutRequest(pid, prefix, self.config.n) for pid, prefix in needed]

    @staticmethod
    def _memo_keys(solution: Solution, steps: tuple[Step, ...]) -> list[_Key]:
        """The empty prefix (for the parent MC of step 0) and every prefix ending before the last step."""
        return [(solution.problem_id, solution.text[: step.end]) for step in steps[:-1]] + [(solution.problem_id, "")]

    def receive(self, answers: Sequence[Sequence[Rollout | tuple]]) -> MathShepherdResult:
        if len(answers) != len(self.requests):
            raise ValueError(f"{len(self.requests)} requests were answered with {len(answers)} results")
        values = []
        for request, raw in zip(self.requests, answers, strict=True):
            rollouts = [Rollout(*r) for r in raw]
            self.stats.rollouts += len(rollouts)
            self.stats.generated_tokens += sum(r.n_tokens for r in rollouts)
            known = [r for r in rollouts if r.known]
            if known:
                counts = (sum(r.correct for r in known), len(known))
                self._known[(request.problem_id, request.prefix)] = counts
                values.append(PrefixValue(problem_id=request.problem_id,
                                          prefix_hash=prefix_hash(request.prefix, self.completer),
                                          n_correct=counts[0], n_rollouts=counts[1]))
        labelled = tuple(self._label(solution, steps) for solution, steps in self._items)
        return MathShepherdResult(labelled, tuple(values), self.stats)

    def _label(self, solution: Solution, steps: tuple[Step, ...]) -> ShepherdLabels:
        labels, missing = [], []
        parent = self._known.get((solution.problem_id, ""))
        for step in steps:
            counts = self._counts(solution, step, is_last=step.index == len(steps) - 1)
            if counts is None:
                missing.append(step.index)
            else:
                labels.append(StepLabel(
                    solution_id=solution.id, step_index=step.index, method="math_shepherd", n_correct=counts[0],
                    n_rollouts=counts[1], parent_mc=parent[0] / parent[1] if parent else None,
                ))
            parent = counts
        return ShepherdLabels(solution, steps, tuple(labels), first_error_index(labels), tuple(missing))

    def _counts(self, solution: Solution, step: Step, is_last: bool) -> tuple[int, int] | None:
        if is_last:
            return None if solution.correct is None else (int(solution.correct), 1)
        return self._known.get((solution.problem_id, solution.text[: step.end]))


def run_math_shepherd(solutions: Sequence[Solution], rollout_fn: RolloutBatchFn,
                      config: MathShepherdConfig | None = None, *, completer: str = "policy",
                      lookup: PrefixLookup | None = None,
                      steps: Mapping[str, Sequence[Step]] | None = None) -> MathShepherdResult:
    """The driver: one `rollout_fn` call with every prefix that needs completions (none when all are known)."""
    batch = MathShepherdBatch(solutions, completer, config, lookup, steps)
    return batch.receive(rollout_fn(batch.requests) if batch.requests else [])
