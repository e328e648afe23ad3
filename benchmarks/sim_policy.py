"""A simulated policy with exact ground truth, for the PRM-search benchmark and tests.

A problem is a chain of integer operations ("Start with 7. Then add 3, multiply by 2, subtract 5."). The policy
writes one step per paragraph (blank-line separated, the default step format), each step applying the next
operation to its running value with a varying phrasing, and ends the last step with "The answer is N.". At
every step it makes an arithmetic error with probability p (its result is off by a few units); later steps
compute correctly from the wrong value. The first error of a text is its first step whose result differs from
the true running value (or, for a finished text whose steps are all right, its last step when the answer line
cannot be read). Continuations are deterministic in (seed, problem, prefix, k, draw), like a call cache.
Generated tokens are counted as ceil(characters / 4) of each completion.

`Noise()` (the default) is the kind policy of the first benchmark: an error is off by 1..9 and never lands back
on the true running value, so a solution is correct iff no step is wrong and a prefix's value is exactly
(1-p)^(steps left) while it is right, 0 once it is wrong (`true_value`). `Noise.honest()` makes the errors real
policies make:
- errors that cancel: offsets are small (1..3) and may land on the true value, so a later slip can undo an
  earlier one and a prefix that holds an error still has some correct completions (its value is > 0);
- truncation: a continuation is cut at a random point (finish_reason "length", as at max_tokens);
- unparseable answers: the last line sometimes says "Final value: N" (no answer marker);
- checker timeouts: an answer check sometimes times out (status "timeout");
- steps of several lines ("Step t: we add 3.\nThen 4 + 3 = 7.").
Completions go through the real `tasks.rollouts.to_rollouts`, so truncation and timeouts are handled exactly
as in production.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from prefsynth.schemas.engine import Completion, GenResult
from prefsynth.schemas.process import DEFAULT_STEP_SEPARATOR, Problem, Rollout, RolloutRequest
from prefsynth.tasks.answers import AnswerCheck, check_answer
from prefsynth.tasks.rollouts import to_rollouts
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
_MULTILINE = "Step {t}: we {word} {arg}.\nThen {prev} {sym} {arg} = {res}."
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Noise:
    """What goes wrong besides arithmetic slips (see the module docstring); the default is the kind policy."""

    cancel: bool = False  # small offsets (1..3) that may land back on the true value
    p_truncate: float = 0.0  # a continuation is cut at a random point (finish_reason "length")
    p_unparseable: float = 0.0  # the answer line has no marker a parser reads
    p_timeout: float = 0.0  # the answer check times out
    multiline: bool = False  # every other step spans two lines

    @classmethod
    def honest(cls, p_truncate: float = 0.03, p_unparseable: float = 0.03, p_timeout: float = 0.03) -> Noise:
        return cls(True, p_truncate, p_unparseable, p_timeout, True)

    @property
    def max_offset(self) -> int:
        return 3 if self.cancel else 9


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

    def __init__(self, problems: Sequence[ChainProblem], seed: int = 0, separator: str = DEFAULT_STEP_SEPARATOR,
                 noise: Noise | None = None):
        self.problems = {cp.problem.id: cp for cp in problems}
        self.seed, self.separator = seed, separator
        self.noise = noise or Noise()
        self.calls = self.requests = self.rollouts = self.tokens = 0
        self.log: list[tuple[RolloutRequest, list[Rollout]]] = []

    def __call__(self, requests: Sequence[RolloutRequest]) -> list[list[Rollout]]:
        self.calls += 1
        answers = []
        for request in requests:
            rollouts = self.continue_prefix(request.problem_id, request.prefix, request.k, request.draw)
            self.requests += 1
            self.rollouts += len(rollouts)
            self.tokens += sum(r.n_tokens for r in rollouts)
            self.log.append((request, rollouts))
            answers.append(rollouts)
        return answers

    def continue_prefix(self, problem_id: str, prefix: str, k: int, draw: int = 0) -> list[Rollout]:
        """k checked continuations of `prefix`, through the production `to_rollouts` and a checker that times
        out as often as the noise says."""
        result = GenResult(completions=self.complete(problem_id, prefix, k, draw))
        checker = _SimChecker(self.seed, self.noise.p_timeout)
        return to_rollouts(result, self.problems[problem_id].problem.gold_answer, checker)

    def complete(self, problem_id: str, prefix: str, k: int, draw: int = 0) -> list[Completion]:
        """k raw completions of `prefix`, deterministic in (seed, problem, prefix, k, draw)."""
        cp = self.problems[problem_id]
        rng = _rng(self.seed, problem_id, prefix, k, draw)
        done = split_steps(prefix, self.separator)
        value = _step_result(done[-1]) if done else cp.start
        completions = []
        for _ in range(k):
            text = self._write_steps(cp, len(done), value, rng)
            finish = "stop"
            if text and rng.random() < self.noise.p_truncate:
                text, finish = text[: rng.randint(1, len(text) - 1) if len(text) > 1 else 0], "length"
            completions.append(Completion(text=text, finish_reason=finish, completion_tokens=-(-len(text) // 4)))
        return completions

    def _write_steps(self, cp: ChainProblem, n_done: int, value: int, rng: random.Random) -> str:
        parts = []
        for t in range(n_done, cp.n_steps):
            sym, arg = cp.ops[t]
            result = _OPS[sym][0](value, arg)
            if rng.random() < cp.p_error:
                result = _wrong_result(result, cp.values[t], rng, self.noise)
            template = _MULTILINE if self.noise.multiline and t % 2 else rng.choice(_TEMPLATES)
            step = template.format(t=t + 1, prev=value, sym=sym, arg=arg, res=result, word=_OPS[sym][1])
            if t == cp.n_steps - 1:
                unreadable = rng.random() < self.noise.p_unparseable
                step += f"\nFinal value: {result}" if unreadable else f"\nThe answer is {result}."
            parts.append(step)
            value = result
        return "".join(p + "\n\n" for p in parts[:-1]) + (parts[-1] if parts else "")

    def true_value(self, problem_id: str, prefix: str) -> float:
        """Exact probability that a known-outcome continuation of `prefix` ends with the gold answer (only
        without cancelling errors: then a prefix holding an error is worth exactly 0)."""
        if self.noise.cancel:
            raise ValueError("no closed-form prefix value when errors can cancel")
        cp = self.problems[problem_id]
        done = split_steps(prefix, self.separator)
        if self.true_first_error(problem_id, prefix) is not None:
            return 0.0
        return (1.0 - cp.p_error) ** (cp.n_steps - len(done)) * (1.0 - self.noise.p_unparseable)

    def true_first_error(self, problem_id: str, text: str) -> int | None:
        """Index of the first step whose result is wrong; for a finished text whose results are all right, its
        last step if the answer cannot be read; else None."""
        cp = self.problems[problem_id]
        steps = split_steps(text, self.separator)
        for i, step in enumerate(steps):
            if i >= cp.n_steps or _step_result(step) != cp.values[i]:
                return i
        if len(steps) == cp.n_steps and check_answer(text, cp.problem.gold_answer).status == "unparseable":
            return cp.n_steps - 1
        return None


class _SimChecker:
    """`check_answer`, except that a check times out with probability p (deterministic in the text)."""

    def __init__(self, seed: int, p_timeout: float) -> None:
        self.seed, self.p_timeout = seed, p_timeout

    def check(self, solution_text: str, gold: str) -> AnswerCheck:
        if self.p_timeout and _rng(self.seed, "check", solution_text).random() < self.p_timeout:
            return AnswerCheck(None, "timeout")
        return check_answer(solution_text, gold)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\0".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _wrong_result(result: int, true_value: int, rng: random.Random, noise: Noise) -> int:
    """An arithmetic slip off by 1..max_offset. Kind policy: never landing on the true running value (errors
    never cancel). Honest policy: it may (a slip after an earlier one can undo it)."""
    while True:
        wrong = result + rng.choice((-1, 1)) * rng.randint(1, noise.max_offset)
        if noise.cancel or wrong != true_value:
            return wrong


def _step_result(step: str) -> int | None:
    body = re.split(r"\n(?:The answer is|Final value:)", step, maxsplit=1)[0]
    found = _INT.findall(body)
    return int(found[-1]) if found else None
