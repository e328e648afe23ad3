"""OmegaPRM: divide-and-conquer Monte Carlo tree search that locates the first error of wrong solutions.

Luo et al. 2024, "Improve Mathematical Reasoning in Language Models by Automated Process Supervision",
arXiv:2406.06592.

Per problem:
1. Screening: `screening_k` (default k; the paper uses 32) rollouts from the empty prefix (the root state).
   All correct: nothing to locate, stop. All wrong: stop too (`all_wrong`): labels of a question the policy
   never solves say it is too hard, not where its reasoning failed; `search_all_wrong` searches them anyway.
2. Select the (state s, wrong rollout r) maximising Q(s,r) + U(s), Q = alpha^(1-MC(s)) * beta^(len(r)/L),
   U = c_puct * sqrt(sum_s' N(s')) / (1 + N(s)). The pool holds the wrong rollouts of the root and of every
   state judged correct with MC < 1, keyed by the full solution text (state prefix + rollout): the same
   solution reached from two states is pooled, searched and labelled once, and never comes back once selected.
3. Binary search over the steps of r: lo = the state (known correct), hi = the finished wrong rollout. Probe
   mid = (lo+hi)//2: a prefix judged correct moves lo right, one judged wrong moves hi left. Every probe
   extends the last prefix known to be correct. The first error is step hi-1.
   Judging a prefix (`estimation`): "mc" is the paper's rule, k rollouts and correct iff MC > 0. "sequential"
   (default) draws k rollouts at a time, up to `max_k`, until a sequential probability ratio test decides
   between "correct" (value predicted from the last correct prefix) and "holds an error" (value
   `error_value`): see `estimate.py`. Lucky completions after an error then no longer move the search right.
4. Maintain: N(s) += 1; every probed prefix becomes a state; the wrong rollouts of those judged correct join
   the pool.
Repeat until the pool is empty, `max_searches` selections were made, or the budget cannot pay for another one.

Budget: `max_estimates` * k rollouts requested per problem (screening and extra draws included), never
exceeded: a rollout is selectable only if its worst-case binary search (ceil(log2(#steps)) probes of k) fits
in what is left, and a probe draws more only from what the rest of its search does not need. Prefixes already
in the tree or found by the injected memo lookup cost nothing: a memo value keeps the verdict its sequential
test made (`PrefixValue.verdict`); one stored without a verdict is judged by its counts only when they decide
(never forced), else the prefix is estimated afresh.

Unknown is not wrong: rollouts whose check timed out or failed, or that were cut at max_tokens, count in no
estimate (neither n_correct nor n_rollouts) and are never searched; a prefix with no known rollout is a
failed probe, not MC = 0.

Fixes over the public implementation: answers compare exactly (`tasks/answers.py`, not by substring), a
selected solution is never re-queued, probes are built on the known-correct prefix, and each prefix is
estimated once.

Batching: an `OmegaPRMSearch` is a state machine whose `request` is the one `RolloutRequest` it waits on;
`run_omegaprm` (the one driver) advances many of them together so one engine call carries one request per
problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ...schemas.process import (
    CheckStatus, OmegaPRMConfig, PrefixLookup, PrefixValue, Problem, Rollout, RolloutRequest, Solution,
    prefix_hash,
)
from ..steps import completion_steps, steps_from_texts
from .estimate import Verdict, mc_verdict, predicted_value, sprt_verdict
from .omegaprm_tree import Candidate, Node, SearchedPath, ancestors, path_labels, worst_case_probes

__all__ = ["OmegaPRMResult", "OmegaPRMSearch", "SearchStats", "SearchedPath", "run_omegaprm"]

RolloutBatchFn = Callable[[list[RolloutRequest]], list[list[Rollout]]]
StopReason = Literal["all_correct", "all_wrong", "pool_empty", "max_searches", "budget", "screening_failed"]
_Probe = Generator[RolloutRequest, list[Rollout], "Node | None"]  # yields requests, returns the estimated node


@dataclass
class SearchStats:
    estimates: int = 0  # engine requests sent (a probe's extra draws are requests too)
    spent: int = 0  # rollouts requested: what the budget (max_estimates * k) counts
    rollouts: int = 0  # completions received
    extra_draws: int = 0  # requests beyond a prefix's first k rollouts (sequential estimation)
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


@dataclass(frozen=True)
class _Test:
    """How to judge one probe: the value a correct prefix should have there, and the rollouts the rest of
    its binary search must keep in reserve."""

    p_ok: float
    reserve: int


class OmegaPRMSearch:
    """The search of one problem. Read `request`, answer it with `send(rollouts)`; `done` when it is None."""

    def __init__(self, problem: Problem, model: str, config: OmegaPRMConfig | None = None,
                 lookup: PrefixLookup | None = None) -> None:
        self.problem, self.model = problem, model
        self.config = config or OmegaPRMConfig()
        self.stats = SearchStats()
        self._lookup = lookup
        self._budget = self.config.max_estimates * self.config.k
        self._nodes: dict[str, Node] = {}
        self._pool: dict[str, Candidate] = {}  # keyed by the full solution text
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
        root = yield from self._sample((), None, None)
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

    def _select(self) -> Candidate | None:
        """argmax Q(s,r) + U(s) over pooled rollouts whose worst-case binary search fits the budget."""
        remaining = self._budget - self.stats.spent
        best, best_score = None, -math.inf
        for candidate in self._pool.values():
            if worst_case_probes(len(candidate.steps)) * self.config.k > remaining:
                continue
            score = self._q(candidate) + self._u(candidate.state)
            if score > best_score:
                best, best_score = candidate, score
        return best

    def _q(self, candidate: Candidate) -> float:
        c = self.config
        return c.alpha ** (1.0 - candidate.state.mc) * c.beta ** (candidate.rollout.n_tokens / c.length_scale)

    def _u(self, state: Node) -> float:
        return self.config.c_puct * math.sqrt(self._total_visits) / (1 + state.visits)

    def _binary_search(self, candidate: Candidate) -> Generator[RolloutRequest, list[Rollout], None]:
        state = candidate.state
        path = state.steps + candidate.steps
        lo, hi = len(state.steps), len(path)
        estimated: dict[int, Node] = {lo: state}
        failed = False
        while hi - lo > 1:
            mid = (lo + hi) // 2
            test = _Test(
                p_ok=predicted_value(estimated[lo].mc, len(path) - lo, len(path) - mid, self.config.error_value),
                reserve=worst_case_probes(max(mid - lo, hi - mid)) * self.config.k,
            )
            node = yield from self._estimate(path[:mid], estimated[lo], test)
            if node is None:
                failed = True
                break
            estimated[mid] = node
            lo, hi = (mid, hi) if node.verdict == "correct" else (lo, mid)
        state.visits += 1
        self._total_visits += 1
        self._records.paths.append(self._path(candidate, path, estimated, None if failed else hi - 1))

    def _estimate(self, steps: tuple[str, ...], parent: Node, test: _Test) -> _Probe:
        """A judged prefix: from the tree, else from the memo lookup, else from fresh rollouts."""
        prefix = "".join(steps)
        if prefix in self._nodes:
            self.stats.tree_hits += 1
            return self._nodes[prefix]
        memo = self._lookup(self.problem.id, prefix_hash(prefix, self.model)) if self._lookup else None
        verdict, tested = self._memo_verdict(memo, test) if memo is not None else (None, False)
        if verdict is None:
            return (yield from self._sample(steps, parent, test))
        self.stats.memo_hits += 1
        node = Node(prefix, steps, memo.n_correct, memo.n_rollouts, parent, verdict, tested)
        self._nodes[prefix] = node
        return node

    def _memo_verdict(self, memo: PrefixValue, test: _Test) -> tuple[Verdict | None, bool]:
        """A stored value's verdict: the one its sequential test made, else what its counts decide without
        forcing (None: they decide nothing, and the prefix is estimated afresh, as if it had no memo)."""
        if memo.verdict is not None and self.config.estimation == "sequential":
            return memo.verdict, True
        return self._judge(memo.n_correct, memo.n_rollouts, test, final=False)

    def _judge(self, n_correct: int, n: int, test: _Test | None, final: bool) -> tuple[Verdict | None, bool]:
        """(verdict, whether the sequential test made it); verdict None: draw more rollouts."""
        if test is None or self.config.estimation == "mc":
            return mc_verdict(n_correct), False
        c = self.config
        return sprt_verdict(n_correct, n, test.p_ok, c.error_value, c.test_error_rate, final), True

    def _sample(self, steps: tuple[str, ...], parent: Node | None, test: _Test | None) -> _Probe:
        """Draw rollouts of a prefix (the root when `test` is None) until it can be judged."""
        prefix = "".join(steps)
        known: list[Rollout] = []
        draw, verdict, tested = 0, None, False
        while verdict is None:
            k = (self.config.screening_k or self.config.k) if test is None else self.config.k
            rollouts = yield from self._draw(prefix, k, draw, parent)
            known += [r for r in rollouts if r.known]
            draw += 1
            final = test is None or self._last_draw(draw, test)
            if not known:
                if final:
                    return None  # no rollout with a known outcome: a failed probe, never MC = 0
                continue
            verdict, tested = self._judge(sum(r.correct for r in known), len(known), test, final)
        node = Node(prefix, steps, sum(r.correct for r in known), len(known), parent, verdict, tested)
        self._nodes[prefix] = node
        self._records.values.append(PrefixValue(
            problem_id=self.problem.id, prefix_hash=prefix_hash(prefix, self.model),
            n_correct=node.n_correct, n_rollouts=node.n_rollouts, verdict=verdict if tested else None,
        ))
        # The root's wrong rollouts are searchable even at MC = 0 (with search_all_wrong): the empty prefix
        # cannot hold the error. Deeper, only a state judged correct can be a binary search's lower end.
        if parent is None or (verdict == "correct" and node.mc < 1.0):
            self._pool_wrong_rollouts(node, known)
        return node

    def _last_draw(self, draws: int, test: _Test) -> bool:
        """No more rollouts for this prefix: mc mode, the max_k cap, or the budget its search must keep."""
        k = self.config.k
        if self.config.estimation == "mc" or (draws + 1) * k > self.config.max_k:
            return True
        return self._budget - self.stats.spent - k < test.reserve

    def _draw(self, prefix: str, k: int, draw: int, parent: Node | None):
        self.stats.estimates += 1
        self.stats.spent += k
        self.stats.extra_draws += draw > 0
        rollouts = yield RolloutRequest(self.problem.id, prefix, k, draw)
        self.stats.rollouts += len(rollouts)
        self.stats.generated_tokens += sum(r.n_tokens for r in rollouts)
        sink = self._records.screening if parent is None else self._records.rollouts
        sink.extend(self._solution(prefix + r.text, r) for r in rollouts)
        return rollouts

    def _pool_wrong_rollouts(self, node: Node, rollouts: list[Rollout]) -> None:
        """Only rollouts known to be wrong are searchable: a checker timeout says nothing about the answer."""
        for rollout in rollouts:
            key = node.prefix + rollout.text
            if rollout.correct or not rollout.known or key in self._ever_pooled:
                continue
            steps = completion_steps(rollout.text, self.config.step_separator)
            if steps:
                self._ever_pooled.add(key)
                self._pool[key] = Candidate(node, rollout, steps)

    def _path(self, candidate: Candidate, path: tuple[str, ...], estimated: dict[int, Node],
              first_error: int | None) -> SearchedPath:
        solution = self._solution("".join(path), candidate.rollout)
        steps = tuple(steps_from_texts(solution.id, path))
        labels = ()
        if first_error is not None:
            known = {len(node.steps): node for node in ancestors(candidate.state)} | estimated
            labels = tuple(path_labels(solution.id, known, len(path)))
        status = "probe_failed" if first_error is None else "located"
        return SearchedPath(candidate.state.prefix, solution, steps, labels, first_error, status)

    def _solution(self, text: str, rollout: Rollout) -> Solution:
        status: CheckStatus = rollout.check_status or ("correct" if rollout.correct else "incorrect")
        return Solution.create(self.problem.id, self.model, text, rollout.final_answer, status)


def run_omegaprm(problems: Sequence[Problem], rollout_fn: RolloutBatchFn, config: OmegaPRMConfig | None = None,
                 *, model: str = "policy", lookup: PrefixLookup | None = None) -> list[OmegaPRMResult]:
    """The driver: the searches of `problems` advance in lockstep rounds, one `rollout_fn` call per round
    carrying the pending request of every unfinished search (one per problem). Results in problem order.

    A problem's search depends only on its own rollouts, so running problems in separate calls (groups that
    run at the same time, flows/process_labels.py) gives each the same result."""
    searches = [OmegaPRMSearch(p, model, config, lookup) for p in problems]
    while active := [s for s in searches if not s.done]:
        answers = rollout_fn([s.request for s in active])
        if len(answers) != len(active):
            raise ValueError(f"{len(active)} requests were answered with {len(answers)} results")
        for search, rollouts in zip(active, answers, strict=True):
            search.send(rollouts)
    return [s.result() for s in searches]
