"""A simulated policy with exact ground truth, for the PRM-search benchmark and tests.

A problem is a chain of integer operations ("Start with 7. Then add 3, multiply by 2, subtract 5."). The policy
writes one step per paragraph (blank-line separated, the default step format), each step applying the next
operation to its running value with a varying phrasing, and ends the last step with "The answer is N.". At
every step it makes an arithmetic error with probability p (its result is off by 1..9). Errors propagate:
later steps compute correctly from the wrong value (+, -, and * by 2 or 3 are injective) and a later error
never lands back on the true value, so a solution is correct iff no step is wrong. Hence, exactly:
- the value of a prefix with j of T steps is (1-p)^(T-j) if its steps are all right, else 0;
- the first error of a solution is its first step whose result differs from the true running value.

Continuations are deterministic: the rollouts of (problem, prefix) depend only on the seed, like a call cache.
Generated tokens are counted as ceil(characters / 4) of each completion.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from prefsynth.schemas.process import DEFAULT_STEP_SEPARATOR, Problem, Rollout, RolloutRequest
from prefsynth.tasks.answers import check_answer
from prefsynth.tasks.steps import split_steps

_OPS = {
    "+": (lambda v, a: v + a, "add"),
    "-": (lambda v, a: v - a, "subtract"),
    "*": (lambda v, a: v * a, "multiply by"),
}
_TEMPLATES = (
    "Step {t}: {prev} {sym} {arg} = {res}.",
    "Next we {word} {arg}: {prev} {sym} {arg} = {res}.",
    "Now {prev} {sym} {arg} = {res}.",
    "We {word} {arg}, so the running value becomes {prev} {sym} {arg} = {res}.",
)
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class ChainProblem:
    """A chain problem: its `Problem` record, the true running value after each step, and the policy's
    per-step error rate on it."""

    problem: Problem
    start: int
    ops: tuple[tuple[str, int], ...]
    values: tuple[int, ...]
    p_error: float

    @property
    def n_steps(self) -> int:
        return len(self.ops)


def make_problems(n: int, seed: int = 0, min_steps: int = 4, max_steps: int = 16, p_min: float = 0.02,
                  p_max: float = 0.15) -> list[ChainProblem]:
    """`n` chain problems with a uniform number of steps and a uniform per-step error rate."""
    rng = random.Random(seed)
    problems = []
    for i in range(n):
        start = rng.randint(1, 20)
        ops = tuple(_random_op(rng) for _ in range(rng.randint(min_steps, max_steps)))
        values = _running_values(start, ops)
        phrases = ", ".join(f"{_OPS[sym][1]} {arg}" for sym, arg in ops)
        question = f"Problem {i}. Start with {start}. Then {phrases}. What number do you get?"
        problem = Problem.create(question, str(values[-1]), source=f"sim:{seed}:{i}")
        problems.append(ChainProblem(problem, start, ops, values, rng.uniform(p_min, p_max)))
    return problems


def _running_values(start: int, ops: tuple[tuple[str, int], ...]) -> tuple[int, ...]:
    values, v = [], start
    for sym, arg in ops:
        v = _OPS[sym][0](v, arg)
        values.append(v)
    return tuple(values)


def _random_op(rng: random.Random) -> tuple[str, int]:
    sym = rng.choices(("+", "-", "*"), weights=(4, 4, 2))[0]
    return sym, rng.randint(2, 3) if sym == "*" else rng.randint(1, 20)


class SimPolicy:
    """Continues step-aligned prefixes of chain problems. Call it with a batch of `RolloutRequest`s (one
    "engine call"); `calls`, `requests`, `rollouts` and `tokens` count what it was asked for."""

    def __init__(self, problems: Sequence[ChainProblem], seed: int = 0, separator: str = DEFAULT_STEP_SEPARATOR):
        self.problems = {cp.problem.id: cp for cp in problems}
        self.seed, self.separator = seed, separator
        self.calls = self.requests = self.rollouts = self.tokens = 0
        self.log: list[tuple[RolloutRequest, list[Rollout]]] = []

    def __call__(self, requests: Sequence[RolloutRequest]) -> list[list[Rollout]]:
        self.calls += 1
        answers = []
        for request in requests:
            rollouts = self.continue_prefix(request.problem_id, request.prefix, request.k)
            self.requests += 1
            self.rollouts += len(rollouts)
            self.tokens += sum(r.n_tokens for r in rollouts)
            self.log.append((request, rollouts))
            answers.append(rollouts)
        return answers

    def continue_prefix(self, problem_id: str, prefix: str, k: int) -> list[Rollout]:
        """k checked continuations of `prefix`, deterministic in (seed, problem, prefix, k)."""
        cp = self.problems[problem_id]
        digest = hashlib.sha256(f"{self.seed}\0{problem_id}\0{prefix}\0{k}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        done = split_steps(prefix, self.separator)
        value = _last_int(done[-1]) if done else cp.start
        rollouts = []
        for _ in range(k):
            text = self._write_steps(cp, len(done), value, rng)
            checked = check_answer(prefix + text, cp.problem.gold_answer)
            rollouts.append(Rollout(text, checked.status == "correct", -(-len(text) // 4), checked.final_answer,
                                    checked.status))
        return rollouts

    def _write_steps(self, cp: ChainProblem, n_done: int, value: int, rng: random.Random) -> str:
        parts = []
        for t in range(n_done, cp.n_steps):
            sym, arg = cp.ops[t]
            result = _OPS[sym][0](value, arg)
            if rng.random() < cp.p_error:
                result = _wrong_result(result, cp.values[t], rng)
            step = rng.choice(_TEMPLATES).format(t=t + 1, prev=value, sym=sym, arg=arg, res=result,
                                                 word=_OPS[sym][1])
            if t == cp.n_steps - 1:
                step += f"\nThe answer is {result}."
            parts.append(step)
            value = result
        return "".join(p + "\n\n" for p in parts[:-1]) + (parts[-1] if parts else "")

    def true_value(self, problem_id: str, prefix: str) -> float:
        """Exact probability that a continuation of `prefix` ends with the gold answer."""
        cp = self.problems[problem_id]
        done = split_steps(prefix, self.separator)
        if self.true_first_error(problem_id, prefix) is not None:
            return 0.0
        return (1.0 - cp.p_error) ** (cp.n_steps - len(done))

    def true_first_error(self, problem_id: str, text: str) -> int | None:
        """Index of the first step whose result is wrong, or None if every step (so far) is right."""
        cp = self.problems[problem_id]
        for i, step in enumerate(split_steps(text, self.separator)):
            if i >= cp.n_steps or _step_result(step) != cp.values[i]:
                return i
        return None


def _wrong_result(result: int, true_value: int, rng: random.Random) -> int:
    """An arithmetic slip: off by 1..9, never landing on the true running value (errors never cancel)."""
    while True:
        wrong = result + rng.choice((-1, 1)) * rng.randint(1, 9)
        if wrong != true_value:
            return wrong


def _step_result(step: str) -> int | None:
    body = step.split("\nThe answer is", 1)[0]
    return _last_int(body)


def _last_int(text: str) -> int | None:
    found = _INT.findall(text.split("\nThe answer is", 1)[0])
    return int(found[-1]) if found else None
