"""OmegaPRM: divide-and-conquer Monte Carlo tree search that locates the first error of wrong solutions.

Luo et al. 2024, "Improve Mathematical Reasoning in Language Models by Automated Process Supervision",
arXiv:2406.06592.

Per problem:
1. Screening: k rollouts from the empty prefix (the root state). All correct: nothing to locate, stop. All
   wrong: stop too (`all_wrong`): labels of a question the policy never solves say it is too hard, not where
   its reasoning failed; `search_all_wrong` searches them anyway.
2. Select the (state s, wrong rollout r) maximising Q(s,r) + U(s), Q = alpha^(1-MC(s)) * beta^(len(r)/L),
   U = c_puct * sqrt(sum_s' N(s')) / (1 + N(s)). The pool holds the wrong rollouts of the root and of every
   state with 0 < MC < 1, keyed by the full solution text (state prefix + rollout): the same solution reached
   from two states is pooled, searched and labelled once, and never comes back once selected.
3. Binary search over the steps of r: lo = the state (known MC > 0), hi = the finished wrong rollout (terminal,
   MC = 0). Probe mid = (lo+hi)//2 with k rollouts from prefix(mid): MC > 0 moves lo right, MC = 0 moves hi
   left. Every probe extends the last prefix known to be correct. The first error is step hi-1.
4. Maintain: N(s) += 1; every probed prefix becomes a state and its wrong rollouts join the pool.
Repeat until the pool is empty, `max_searches` selections were made, or the budget cannot pay for another one.

Budget: `max_estimates` counts Monte Carlo estimates, i.e. engine requests of k rollouts, screening included.
It is never exceeded: a rollout is selectable only if its worst-case binary search (ceil(log2(#steps))
probes) fits in what is left. Prefixes already in the tree or found by the injected memo lookup cost nothing.

Unknown is not wrong: rollouts whose check timed out or failed, or that were cut at max_tokens, count in no
estimate (neither n_correct nor n_rollouts) and are never searched; a prefix with no known rollout is a
failed probe, not MC = 0.

Fixes over the public implementation: answers compare exactly (`tasks/answers.py`, not by substring), a
selected solution is never re-queued, probes are built on the known-correct prefix, and each prefix is
estimated once.

Batching: an `OmegaPRMSearch` is a state machine whose `request` is the one `RolloutRequest` it waits on;
`omegaprm_batches` advances many of them together so one engine call carries one request per problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ...schemas.process import (
    CheckStatus, OmegaPRMConfig, PrefixLookup, PrefixValue, Problem, Rollout, RolloutRequest, Solution, Step,
    StepLabel, prefix_hash,
)
from ..steps import completion_steps, steps_from_texts

RolloutBatchFn = Callable[[list[RolloutRequest]], list[list[Rollout]]]
StopReason = Literal["all_correct", "all_wrong", "pool_empty", "max_searches", "budget", "screening_failed"]
_Probe = Generator[RolloutRequest, list[Rollout], "_Node | None"]  # yields requests, returns the estimated node


@dataclass(eq=False)
class _Node:
    """A state s = (question, prefix) with its MC estimate; `parent` is the known-correct prefix it was probed
    from (None for the root), so a path's labels can name every estimate that led to it."""

    prefix: str
    steps: tuple[str, ...]
    n_correct: int
    n_rollouts: int
    parent: _Node | None
    visits: int = 0

    @property
    def mc(self) -> float:
        return self.n_correct / self.n_rollouts


@dataclass(frozen=True, eq=False)
class _Candidate:
    """A wrong rollout r from state s: one element of the selection pool."""

    state: _Node
    rollout: Rollout
    steps: tuple[str, ...]


@dataclass(frozen=True)
class SearchedPath:
    """A selected wrong rollout after its binary search. `solution` is state prefix + rollout; `labels` hold
    every estimate on it (ancestors, probes, and the finished rollout itself as 0 of 1); `first_error` is the
    located step index. If a probe came back empty the search stopped: status "probe_failed", no labels."""

    state_prefix: str
    solution: Solution
    steps: tuple[Step, ...]
    labels: tuple[StepLabel, ...]
    first_error: int | None
    status: Literal["located", "probe_failed"]


@dataclass
class SearchStats:
    estimates: int = 0  # engine requests sent, k rollouts each: what the budget counts
    rollouts: int = 0  # completions received
    generated_tokens: int = 0
    memo_hits: int = 0  # prefixes answered by the injected lookup
    tree_hits: int = 0  # prefixes already estimated in this search
    searches: int = 0  # selections, each followed by one binary search
    stop_reason: StopReason | None = None


@dataclass(frozen=True)
class OmegaPRMResult:
    """Everything one problem's search produced. `prefix_values` are the newly sampled estimates (memo hits are
    not repeated); `screening` and `rollouts` are every sampled continuation as a full solution."""

    problem_id: str
    paths: tuple[SearchedPath, ...]
    prefix_values: tuple[PrefixValue, ...]
    screening: tuple[Solution, ...]
    rollouts: tuple[Solution, ...]
    stats: SearchStats


@dataclass
class _Records:
    paths: list[SearchedPath] = field(default_factory=list)
    values: list[PrefixValue] = field(default_factory=list)
    screening: list[Solution] = field(default_factory=list)
    rollouts: list[Solution] = field(default_factory=list)


class OmegaPRMSearch:
    """The search of one problem. Read `request`, answer it with `send(rollouts)`; `done` when it is None."""

    def __init__(self, problem: Problem, model: str, config: OmegaPRMConfig | None = None,
                 lookup: PrefixLookup | None = None) -> None:
        self.problem, self.model = problem, model
        self.config = config or OmegaPRMConfig()
        self.stats = SearchStats()
        self._lookup = lookup
        self._nodes: dict[str, _Node] = {}
        self._pool: dict[str, _Candidate] = {}  # keyed by the full solution text
        self._ever_pooled: set[str] = set()
        self._total_visits = 0
        self._records = _Records()
        self._machine = self._run()
        self.request: RolloutRequest | None = None
        self._advance(None)

    @property
    def done(self) -> bool:
        return self.request is None

    def send(self, rollouts: Sequence[Rollout | tuple]) -> None:
        """Answer the pending request with its rollouts (fewer than k, or none, if the engine failed)."""
        if self.request is None:
            raise RuntimeError(f"the search of problem {self.problem.id} is finished")
        self._advance([Rollout(*r) for r in rollouts])

    def result(self) -> OmegaPRMResult:
        if not self.done:
            raise RuntimeError(f"the search of problem {self.problem.id} is still running")
        r = self._records
        return OmegaPRMResult(self.problem.id, tuple(r.paths), tuple(r.values), tuple(r.screening),
                              tuple(r.rollouts), self.stats)

    def _advance(self, rollouts: list[Rollout] | None) -> None:
        try:
            self.request = self._machine.send(rollouts)
        except StopIteration:
            self.request = None

    def _run(self) -> Generator[RolloutRequest, list[Rollout], None]:
        # Screening is always sampled, never memoised: its rollouts are the search's first candidates.
        root = yield from self._sample((), parent=None)
        if root is None:
            self.stats.stop_reason = "screening_failed"
            return
        if root.n_correct == root.n_rollouts:
            self.stats.stop_reason = "all_correct"
            return
        if root.n_correct == 0 and not self.config.search_all_wrong:
            self.stats.stop_reason = "all_wrong"
            return
        while self.stats.searches < self.config.max_searches:
            candidate = self._select()
            if candidate is None:
                self.stats.stop_reason = "budget" if self._pool else "pool_empty"
                return
            del self._pool[candidate.state.prefix + candidate.rollout.text]
            self.stats.searches += 1
            yield from self._binary_search(candidate)
        self.stats.stop_reason = "max_searches"

    def _select(self) -> _Candidate | None:
        """argmax Q(s,r) + U(s) over pooled rollouts whose worst-case binary search fits the budget."""
        remaining = self.config.max_estimates - self.stats.estimates
        best, best_score = None, -math.inf
        for candidate in self._pool.values():
            if _worst_case_probes(len(candidate.steps)) > remaining:
                continue
            score = self._q(candidate) + self._u(candidate.state)
            if score > best_score:
                best, best_score = candidate, score
        return best

    def _q(self, candidate: _Candidate) -> float:
        c = self.config
        return c.alpha ** (1.0 - candidate.state.mc) * c.beta ** (candidate.rollout.n_tokens / c.length_scale)

    def _u(self, state: _Node) -> float:
        return self.config.c_puct * math.sqrt(self._total_visits) / (1 + state.visits)

    def _binary_search(self, candidate: _Candidate) -> Generator[RolloutRequest, list[Rollout], None]:
        state = candidate.state
        path = state.steps + candidate.steps
        lo, hi = len(state.steps), len(path)
        estimated: dict[int, _Node] = {lo: state}
        failed = False
        while hi - lo > 1:
            mid = (lo + hi) // 2
            node = yield from self._estimate(path[:mid], parent=estimated[lo])
            if node is None:
                failed = True
                break
            estimated[mid] = node
            lo, hi = (mid, hi) if node.mc > 0 else (lo, mid)
        state.visits += 1
        self._total_visits += 1
        self._records.paths.append(self._path(candidate, path, estimated, None if failed else hi - 1))

    def _estimate(self, steps: tuple[str, ...], parent: _Node) -> _Probe:
        """MC of a prefix: from the tree, else from the memo lookup, else from k fresh rollouts."""
        prefix = "".join(steps)
        if prefix in self._nodes:
            self.stats.tree_hits += 1
            return self._nodes[prefix]
        memo = self._lookup(self.problem.id, prefix_hash(prefix, self.model)) if self._lookup else None
        if memo is not None:
            self.stats.memo_hits += 1
            node = _Node(prefix, steps, memo.n_correct, memo.n_rollouts, parent)
            self._nodes[prefix] = node
            return node
        return (yield from self._sample(steps, parent))

    def _sample(self, steps: tuple[str, ...], parent: _Node | None) -> _Probe:
        prefix = "".join(steps)
        self.stats.estimates += 1
        rollouts = yield RolloutRequest(self.problem.id, prefix, self.config.k)
        self.stats.rollouts += len(rollouts)
        self.stats.generated_tokens += sum(r.n_tokens for r in rollouts)
        sink = self._records.screening if parent is None else self._records.rollouts
        sink.extend(self._solution(prefix + r.text, r) for r in rollouts)
        known = [r for r in rollouts if r.known]
        if not known:
            return None  # no rollout with a known outcome: a failed probe, never MC = 0
        node = _Node(prefix, steps, sum(r.correct for r in known), len(known), parent)
        self._nodes[prefix] = node
        self._records.values.append(PrefixValue(
            problem_id=self.problem.id, prefix_hash=prefix_hash(prefix, self.model),
            n_correct=node.n_correct, n_rollouts=node.n_rollouts,
        ))
        # The root's wrong rollouts are searchable even at MC = 0: the empty prefix cannot hold the error.
        if parent is None or 0.0 < node.mc < 1.0:
            self._pool_wrong_rollouts(node, rollouts)
        return node

    def _pool_wrong_rollouts(self, node: _Node, rollouts: list[Rollout]) -> None:
        """Only rollouts known to be wrong are searchable: a checker timeout says nothing about the answer."""
        for rollout in rollouts:
            key = node.prefix + rollout.text
            if rollout.correct or not rollout.known or key in self._ever_pooled:
                continue
            steps = completion_steps(rollout.text, self.config.step_separator)
            if steps:
                self._ever_pooled.add(key)
                self._pool[key] = _Candidate(node, rollout, steps)

    def _path(self, candidate: _Candidate, path: tuple[str, ...], estimated: dict[int, _Node],
              first_error: int | None) -> SearchedPath:
        solution = self._solution("".join(path), candidate.rollout)
        steps = tuple(steps_from_texts(solution.id, path))
        labels: tuple[StepLabel, ...] = ()
        if first_error is not None:
            known = {len(node.steps): node for node in _ancestors(candidate.state)} | estimated
            labels = tuple(self._labels(solution.id, known, len(path)))
        status = "probe_failed" if first_error is None else "located"
        return SearchedPath(candidate.state.prefix, solution, steps, labels, first_error, status)

    @staticmethod
    def _labels(solution_id: str, known: dict[int, _Node], n_steps: int) -> list[StepLabel]:
        """One label per estimated prefix of the path (index = its last step), then the finished rollout."""
        labels = []
        for length in sorted(known):
            if length == 0:
                continue  # the empty prefix ends no step
            parent = known.get(length - 1)
            labels.append(StepLabel(
                solution_id=solution_id, step_index=length - 1, method="omegaprm", n_correct=known[length].n_correct,
                n_rollouts=known[length].n_rollouts, parent_mc=parent.mc if parent else None,
            ))
        parent = known.get(n_steps - 1)
        labels.append(StepLabel(solution_id=solution_id, step_index=n_steps - 1, method="omegaprm", n_correct=0,
                                n_rollouts=1, parent_mc=parent.mc if parent else None))
        return labels

    def _solution(self, text: str, rollout: Rollout) -> Solution:
        status: CheckStatus = rollout.check_status or ("correct" if rollout.correct else "incorrect")
        return Solution.create(self.problem.id, self.model, text, rollout.final_answer, status)


def _ancestors(node: _Node | None) -> list[_Node]:
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def _worst_case_probes(n_steps: int) -> int:
    """Probes a binary search over n rollout steps may need: ceil(log2(n)); 0 for a one-step rollout."""
    return (n_steps - 1).bit_length()


def start_searches(problems: Sequence[Problem], model: str, config: OmegaPRMConfig | None = None,
                   lookup: PrefixLookup | None = None) -> list[OmegaPRMSearch]:
    return [OmegaPRMSearch(p, model, config, lookup) for p in problems]


def omegaprm_batches(
    searches: Sequence[OmegaPRMSearch],
) -> Generator[list[RolloutRequest], list[list[Rollout]], list[OmegaPRMResult]]:
    """Advance many searches in lockstep. Each yielded batch holds the pending request of every unfinished
    search; send back one list of rollouts per request, in order. Returns the results in input order."""
    while True:
        active = [s for s in searches if not s.done]
        if not active:
            return [s.result() for s in searches]
        answers = yield [s.request for s in active]
        if len(answers) != len(active):
            raise ValueError(f"{len(active)} requests were answered with {len(answers)} results")
        for search, rollouts in zip(active, answers, strict=True):
            search.send(rollouts)


def run_omegaprm(problems: Sequence[Problem], rollout_fn: RolloutBatchFn, config: OmegaPRMConfig | None = None,
                 *, model: str = "policy", lookup: PrefixLookup | None = None) -> list[OmegaPRMResult]:
    """Synchronous driver: one `rollout_fn` call per round, carrying every problem's pending request."""
    batches = omegaprm_batches(start_searches(problems, model, config, lookup))
    try:
        requests = next(batches)
        while True:
            requests = batches.send(rollout_fn(requests))
    except StopIteration as finished:
        return finished.value
