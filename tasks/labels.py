"""Step labels as trainers want them, derived at export time from the stored raw counts.

Stored per labelled step: n_correct of n_rollouts continuations reached the gold answer, and the parent's MC.
Derived here, by one rule (`first_error_index` at the label threshold, Math-Shepherd's "any correct" is
threshold 0): the first error is the first estimated step with MC <= threshold; hard labels are True before
it and False from it on, so they are monotone and always agree with the exported `first_error`. Soft labels
are the MC values (Math-Shepherd's soft estimate), progress is MC after − MC before (an advantage-style
process reward).

Steps never estimated (OmegaPRM estimates only the prefixes its binary search probed) have `mc` None and
`estimated` False. Their hard label is inferred from the located first error, not measured: before it True
(a longer prefix still reached the gold answer), from it on False (they follow the error). The PRM800K /
OmegaPRM convention supervises only up to the first error: `truncate_after_first_error` keeps exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.process import LabelledSolution, first_error_index

STEP_TAG = "ки"  # Math-Shepherd's step tag


@dataclass(frozen=True)
class DerivedLabels:
    hard: list[bool]
    mc: list[float | None]
    progress: list[float | None]
    estimated: list[bool]
    first_error: int | None


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
    return DerivedLabels(hard, mc, progress, [i in by_step for i in range(row.n_steps)], fe)


def trl_stepwise(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """TRL's stepwise-supervision format; labels are bools (TRL casts with int()), soft values separate."""
    return {
        "prompt": question,
        "completions": [s.strip() for s in steps],
        "labels": labels.hard,
        "mc_values": labels.mc,
        "progress": labels.progress,
        "estimated": labels.estimated,
    }


def truncate_after_first_error(labels: DerivedLabels) -> DerivedLabels:
    """The labels of the steps up to and including the first error (all of them when there is none)."""
    if labels.first_error is None:
        return labels
    n = labels.first_error + 1
    return DerivedLabels(labels.hard[:n], labels.mc[:n], labels.progress[:n], labels.estimated[:n],
                         labels.first_error)


def math_shepherd(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """Math-Shepherd's format: `ки` after each step in `input`, replaced by `+`/`-` in `label`."""
    body = [s.strip() for s in steps]
    tagged = "".join(f"{s} {STEP_TAG}\n" for s in body)
    marked = "".join(f"{s} {'+' if ok else '-'}\n" for s, ok in zip(body, labels.hard, strict=True))
    return {"input": f"{question} {tagged}", "label": f"{question} {marked}"}
