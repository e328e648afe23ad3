"""Every kind of juror a jury may list, by its config's `kind` (schemas/judges.py `JUROR_KINDS`).

A new judge is one module of tasks/judge/ with a `JUDGE` that follows `Judge` (tasks/judge/base.py), plus one
line here (and its config model in the `JurorConfig` union).
"""

from __future__ import annotations

from . import debate, imported, pointwise, single, verifier
from .base import Judge

JUDGES: dict[str, Judge] = {
    "pairwise": single.JUDGE,
    "pointwise": pointwise.JUDGE,
    "debate": debate.JUDGE,
    "imported": imported.JUDGE,
    "verifier": verifier.JUDGE,
}


def judge_for(cfg) -> Judge:
    """The judge of a juror config (by its `kind`)."""
    return JUDGES[cfg.kind]
