"""What every judge of a jury is: the `Judge` protocol, and `Calls`, what a judge needs of the runtime.

A judge turns its juror config into `Judgment` records: a *rating* judge (pointwise) rates single samples before
pairs are chosen; every other judge judges the chosen pairs (both orders, a debate, imported lines, a verifier
check). One registry (tasks/judge/registry.py) maps each config `kind` to its judge. Judges send their requests
through `Calls` (the runtime's `CallRunner`: cache, limits, batching or streaming) and never touch storage: what
the catalog holds (imported judgments) is given to them as data.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

from ...schemas.engine import GenRequest, GenResult
from ...schemas.imported import ImportedJudgment
from ...schemas.preference import Judgment, Prompt, Sample
from ..generate import Answer, Followup

Pair = tuple[Sample, Sample]
Imported = Mapping[str, Sequence[ImportedJudgment]]  # imported judge name → its judgments (read from the catalog)


class Calls(Protocol):
    """The engine calls a judge may make (implemented by runtime/calls.py `CallRunner`)."""

    batch_size: int

    def engine_name(self, engine_key: str) -> str: ...

    def run(self, engine_key: str, requests: list[GenRequest], stage: str) -> list[GenResult]: ...

    def run_with_followup(self, engine_key: str, requests: list[GenRequest], stage: str,
                          followup: Followup | None) -> list[Answer]: ...


@runtime_checkable
class Judge(Protocol):
    """One kind of juror. `name` is the judge's identity in its judgments (engine/model and every setting that
    changes its verdicts); `rate` gives ratings of single samples (only a rating judge has any); `judge_pairs`
    gives, for each pair, its judgments (none for a rating judge)."""

    def name(self, cfg: Any, calls: Calls | None) -> str: ...

    def rate(self, cfg: Any, name: str, prompts: dict[str, Prompt], samples: list[Sample],
             calls: Calls) -> list[Judgment]: ...

    def judge_pairs(self, cfg: Any, name: str, prompts: dict[str, Prompt], pairs: list[Pair], calls: Calls,
                    imported: Imported) -> list[list[Judgment]]: ...


class PairJudge:
    """Defaults for a judge of pairs: it rates nothing."""

    def rate(self, cfg, name, prompts, samples, calls) -> list[Judgment]:
        return []
