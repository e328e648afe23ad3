"""Step labels as trainers want them, derived at export time from the stored raw counts (the stepwise export
formats, storage/formats/stepwise.py, shape them into their columns).

Stored per labelled step: n_correct of n_rollouts continuations reached the gold answer, and the parent's MC.
Derived here, by one rule (`first_error_index` at the label threshold, Math-Shepherd's "any correct" is
threshold 0): the first error is the first estimated step the search's test called an error or whose MC is
<= threshold; hard labels are True before
it and False from it on, so they are monotone and always agree with the exported `first_error`. Soft labels
are the MC values (Math-Shepherd's soft estimate), progress is MC after − MC before (an advantage-style
process reward).

Per step the export also carries the rollout count behind each value (`n_rollouts`) and its 95 % Wilson
interval (`mc_lower`, `mc_upper`); per solution, `first_error_evidence` says how sure the located first error
is: the interval of the step before it against the interval of the step itself (`separated` when they do not
overlap). With OmegaPRM's sequential estimation a step can be an error although a rollout or two from it
reached the answer (lucky completions after the error): the stored verdict decides, the counts stay as sampled.

Steps never estimated (OmegaPRM estimates only the prefixes its binary search probed) have `mc`, `n_rollouts` and
the interval None and `estimated` False. Their hard label is inferred from the located first error, not measured:
before it True (a longer prefix still reached the gold answer), from it on False (they follow the error). The
PRM800K / OmegaPRM convention supervises only up to the first error: `truncate_after_first_error` keeps exactly
that.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.process import LabelledSolution, first_error_index
from .search.estimate import wilson


@dataclass(frozen=True)
class DerivedLabels:
    hard: list[bool]
    mc: list[float | None]
    progress: list[float | None]
    estimated: list[bool]
    first_error: int | None
    n_rollouts: list[int | None]
    mc_lower: list[float | None]
    mc_upper: list[float | None]


def derive(row: LabelledSolution, threshold: float = 0.0) -> DerivedLabels:
    """Per-step hard labels, MC values, progress and estimated flags of one labelled solution."""
    by_step = {lb.step_index: lb for lb in row.labels}
    fe = first_error_index(list(row.labels), threshold)
    hard = [fe is None or i < fe for i in range(row.n_steps)]
    mc = [by_step[i].mc if i in by_step else None for i in range(row.n_steps)]
    progress = []
    for i, value in enumerate(mc):
        before = by_step[i].parent_mc if i in by_step else None
        progress.append(value - before if value is not None and before is not None else None)
    counts = [(by_step[i].n_correct, by_step[i].n_rollouts) if i in by_step else None for i in range(row.n_steps)]
    intervals = [wilson(*c) if c else (None, None) for c in counts]
    n_rollouts = [c[1] if c else None for c in counts]
    return DerivedLabels(hard, mc, progress, [c is not None for c in counts], fe, n_rollouts,
                         [lo for lo, _ in intervals], [hi for _, hi in intervals])


def first_error_evidence(row: LabelledSolution, threshold: float = 0.0) -> dict:
    """How sure the located first error is: the Wilson lower bound of the MC of the step before it
    (`before_lower`; None when the error is step 0 or that step was not estimated), the upper bound at the
    error (`at_upper`), and whether the two intervals are apart (`separated`). All None without an error."""
    fe = first_error_index(list(row.labels), threshold)
    if fe is None:
        return {"before_lower": None, "at_upper": None, "separated": None}
    by_step = {lb.step_index: lb for lb in row.labels}
    before = by_step.get(fe - 1)
    before_lower = wilson(before.n_correct, before.n_rollouts)[0] if before else None
    at_upper = wilson(by_step[fe].n_correct, by_step[fe].n_rollouts)[1]
    separated = before_lower > at_upper if before_lower is not None else None
    return {"before_lower": before_lower, "at_upper": at_upper, "separated": separated}


def truncate_after_first_error(labels: DerivedLabels) -> DerivedLabels:
    """The labels of the steps up to and including the first error (all of them when there is none)."""
    if labels.first_error is None:
        return labels
    n = labels.first_error + 1
    return DerivedLabels(labels.hard[:n], labels.mc[:n], labels.progress[:n], labels.estimated[:n],
                         labels.first_error, labels.n_rollouts[:n], labels.mc_lower[:n], labels.mc_upper[:n])
