"""Step labels as trainers want them, derived at export time from the stored raw counts.

Stored per labelled step: n_correct of n_rollouts continuations reached the gold answer, and the parent's MC.
Derived here: hard labels (MC > threshold; Math-Shepherd's "any correct" is threshold 0), soft labels (MC,
Math-Shepherd's soft estimate), and progress (MC after − MC before, an advantage-style process reward).
Steps without their own estimate follow the located first error: before it correct, from it on not.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schemas.process import LabelledSolution

STEP_TAG = "ки"  # Math-Shepherd's step tag


@dataclass(frozen=True)
class DerivedLabels:
    hard: list[bool]
    mc: list[float | None]
    progress: list[float | None]


def derive(row: LabelledSolution, threshold: float = 0.0) -> DerivedLabels:
    by_step = {lb.step_index: lb for lb in row.labels}
    fe = row.first_error
    hard, mc, progress = [], [], []
    for i in range(row.n_steps):
        label = by_step.get(i)
        value = label.mc if label else (0.0 if fe is not None and i >= fe else None)
        hard.append(value > threshold if value is not None else (fe is None or i < fe))
        mc.append(value)
        before = label.parent_mc if label else None
        progress.append(value - before if value is not None and before is not None else None)
    return DerivedLabels(hard, mc, progress)


def trl_stepwise(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """TRL's stepwise-supervision format; labels are bools (TRL casts with int()), soft values separate."""
    return {
        "prompt": question,
        "completions": [s.strip() for s in steps],
        "labels": labels.hard,
        "mc_values": labels.mc,
        "progress": labels.progress,
    }


def math_shepherd(question: str, steps: list[str], labels: DerivedLabels) -> dict:
    """Math-Shepherd's format: `ки` after each step in `input`, replaced by `+`/`-` in `label`."""
    body = [s.strip() for s in steps]
    tagged = "".join(f"{s} {STEP_TAG}\n" for s in body)
    marked = "".join(f"{s} {'+' if ok else '-'}\n" for s, ok in zip(body, labels.hard, strict=True))
    return {"input": f"{question} {tagged}", "label": f"{question} {marked}"}
