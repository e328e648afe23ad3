"""The records of an OmegaPRM search tree: states with their estimates, pooled candidates, searched paths and
the step labels a path carries (Luo et al. 2024, arXiv:2406.06592)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...schemas.process import Rollout, Solution, Step, StepLabel
from .estimate import Verdict


@dataclass(eq=False)
class Node:
    """A state s = (question, prefix) with its MC estimate (known rollouts only) and the search's verdict on it;
    `parent` is the known-correct prefix it was probed from (None for the root), so a path's labels can name
    every estimate that led to it. `tested`: the verdict came from the sequential test, not from MC > 0."""

    prefix: str
    steps: tuple[str, ...]
    n_correct: int
    n_rollouts: int
    parent: Node | None
    verdict: Verdict
    tested: bool = False
    visits: int = 0

    @property
    def mc(self) -> float:
        return self.n_correct / self.n_rollouts


@dataclass(frozen=True, eq=False)
class Candidate:
    """A wrong rollout r from state s: one element of the selection pool."""

    state: Node
    rollout: Rollout
    steps: tuple[str, ...]


@dataclass(frozen=True)
class SearchedPath:
    """A selected wrong rollout after its binary search. `solution` is state prefix + rollout; `labels` hold
    every estimate on it (ancestors, probes, and the finished rollout itself as 0 of 1); `first_error` is the
    located step index. If a probe got no rollout with a known outcome the search of this path stopped:
    status "probe_failed", no labels."""

    state_prefix: str
    solution: Solution
    steps: tuple[Step, ...]
    labels: tuple[StepLabel, ...]
    first_error: int | None
    status: Literal["located", "probe_failed"]


def ancestors(node: Node | None) -> list[Node]:
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def path_labels(solution_id: str, known: dict[int, Node], n_steps: int) -> list[StepLabel]:
    """One label per estimated prefix of the path (index = its last step), then the finished rollout itself
    (0 of 1: its checked answer is wrong). A label carries its node's verdict when a test made it."""
    labels = []
    for length in sorted(known):
        if length == 0 or length >= n_steps:
            continue  # the empty prefix ends no step; the whole solution is labelled below
        node, parent = known[length], known.get(length - 1)
        labels.append(StepLabel(
            solution_id=solution_id, step_index=length - 1, method="omegaprm", n_correct=node.n_correct,
            n_rollouts=node.n_rollouts, parent_mc=parent.mc if parent else None,
            verdict=node.verdict if node.tested else None,
        ))
    parent = known.get(n_steps - 1)
    labels.append(StepLabel(solution_id=solution_id, step_index=n_steps - 1, method="omegaprm", n_correct=0,
                            n_rollouts=1, parent_mc=parent.mc if parent else None))
    return labels


def worst_case_probes(n_steps: int) -> int:
    """Probes a binary search over n rollout steps may need: ceil(log2(n)); 0 for a one-step rollout."""
    return (n_steps - 1).bit_length()
