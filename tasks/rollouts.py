"""Rollouts for process labels: a `RolloutRequest` becomes one raw-continuation `GenRequest` with `n=k`, and
the completions come back as checked `Rollout`s.

Raw text continuation (not chat) so that any prefix of a solution can be continued exactly, on every engine
(llama.cpp, vLLM, OpenAI-compatible /completions).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..schemas.engine import GenRequest, GenResult
from ..schemas.ids import content_id
from ..schemas.process import Problem, Rollout, RolloutRequest
from .answers import AnswerCheck

# Bump when the wording changes: it is part of the rollout policy's identity (and so of every memo key).
SOLVE_TEMPLATE_VERSION = "solve-v1"
SOLVE_TEMPLATE = (
    "Solve the math problem step by step. Write each step as its own paragraph, separated by a blank line. "
    "End with a line of the form \"The answer is N.\"\n\n"
    "Question: {question}\n\nAnswer:\n"
)
STOP = ("\nQuestion:",)


class Checker(Protocol):
    def check(self, solution_text: str, gold: str) -> AnswerCheck: ...


@dataclass(frozen=True)
class RolloutPolicy:
    """Sampling settings of the rollout policy; `name` identifies it in memo keys and solution records."""

    engine_name: str
    temperature: float
    top_p: float
    max_tokens: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.engine_name}|{SOLVE_TEMPLATE_VERSION}|t={self.temperature}|p={self.top_p}|max={self.max_tokens}"


def rollout_request(policy: RolloutPolicy, problem: Problem, req: RolloutRequest) -> GenRequest:
    """k continuations of the prefix. The seed is derived from (seed, problem, prefix, draw): reproducible runs,
    distinct prefixes never share a random stream, and a further draw of the same prefix gets new samples
    (not the call cache's copy of the first)."""
    stream = (policy.seed, problem.id, req.prefix) + ((req.draw,) if req.draw else ())
    seed = int(content_id(*stream, length=8), 16) % (2**31)
    return GenRequest(
        prompt=SOLVE_TEMPLATE.format(question=problem.question) + req.prefix,
        n=req.k,
        temperature=policy.temperature,
        top_p=policy.top_p,
        max_tokens=policy.max_tokens,
        seed=seed,
        stop=STOP,
    )


def to_rollouts(result: GenResult, gold: str, checker: Checker) -> list[Rollout]:
    """Checked rollouts; a failed call gives none (the search records the probe as failed, never as wrong).

    A completion cut at max_tokens (`finish_reason == "length"`) is "truncated": its answer is unknown, not
    wrong. Every other completion is checked on its own text (issue 12 item 2): it is judged by the answer it
    states, and one that states none is "unparseable" (it did not reach the gold answer) — an answer written
    earlier in the prefix never stands in for it."""
    if not result.ok:
        return []
    rollouts = []
    for c in result.completions:
        if c.finish_reason == "length":
            rollouts.append(Rollout(c.text, False, c.completion_tokens, None, "truncated"))
            continue
        checked = checker.check(c.text, gold)
        correct = checked.status == "correct"
        rollouts.append(Rollout(c.text, correct, c.completion_tokens, checked.final_answer, checked.status))
    return rollouts


class Runner(Protocol):
    """What a rollout source needs of the build's call runner (runtime/calls.py `CallRunner`)."""

    def run(self, engine_key: str, requests: list[GenRequest], stage: str) -> list[GenResult]: ...


class RolloutSource:
    """The rollout function the searches call: `RolloutRequest`s → one engine call (through the call cache) →
    checked `Rollout`s, one list per request, in order.

    Callable from several threads at once (groups of problems that run at the same time): the runner is, and
    answer checks take turns, as the checker has one math-verify worker."""

    def __init__(self, policy: RolloutPolicy, engine_key: str, problems: Sequence[Problem], runner: Runner,
                 checker: Checker):
        self.policy, self.engine_key, self.runner = policy, engine_key, runner
        self.problems = {p.id: p for p in problems}
        self._checker, self._checking = checker, threading.Lock()

    def __call__(self, requests: list[RolloutRequest]) -> list[list[Rollout]]:
        gen = [rollout_request(self.policy, self.problems[r.problem_id], r) for r in requests]
        results = self.runner.run(self.engine_key, gen, stage="rollouts")  # one progress bar for every round
        return [to_rollouts(res, self.problems[r.problem_id].gold_answer, self)
                for r, res in zip(requests, results, strict=True)]

    def check(self, solution_text: str, gold: str) -> AnswerCheck:
        with self._checking:
            return self._checker.check(solution_text, gold)
