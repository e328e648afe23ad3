"""Records of the process-label flow: Problem → Solution → Step → PrefixValue / StepLabel.

Also the two in-process messages between the search algorithms and whoever runs the policy
(`RolloutRequest` out, `Rollout` back), and the config pieces of OmegaPRM and Math-Shepherd.

Labels keep raw counts (n_correct of n_rollouts) and the parent's MC, so hard (any correct), soft (c/N),
MC > threshold and progress (MC(after) - MC(before)) labels are all derived at export time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .ids import content_id

# "truncated": the continuation was cut at max_tokens, so its answer is unknown (never wrong).
CheckStatus = Literal["correct", "incorrect", "unparseable", "timeout", "error", "truncated"]
LabelMethod = Literal["omegaprm", "math_shepherd"]

# A step ends at a blank line (or a run of them); the separator stays with the step before it.
DEFAULT_STEP_SEPARATOR = r"\n\s*\n"

_RECORD = ConfigDict(extra="forbid", frozen=True)
_CONFIG = ConfigDict(extra="forbid")

# What a checked answer says about correctness: timeouts, checker errors and cut-off texts leave it unknown.
_CORRECT_BY_STATUS: dict[str, bool | None] = {
    "correct": True,
    "incorrect": False,
    "unparseable": False,
    "timeout": None,
    "error": None,
    "truncated": None,
}
UNKNOWN_STATUSES = frozenset(s for s, known in _CORRECT_BY_STATUS.items() if known is None)


class Problem(BaseModel):
    """A question with its gold final answer. `source` is where it came from (FILE:LINE or dataset:split:idx)."""

    model_config = _RECORD
    id: str
    question: str
    gold_answer: str
    source: str = ""

    @classmethod
    def create(cls, question: str, gold_answer: str, source: str = "") -> Problem:
        return cls(id=content_id("problem", question, gold_answer), question=question, gold_answer=gold_answer,
                   source=source)


def solution_id(problem_id: str, model: str, text: str) -> str:
    """Identity of a solution: the same text by the same model for the same problem is stored once."""
    return content_id("solution", problem_id, model, text)


class Solution(BaseModel):
    """A full solution text (a policy sample or a search rollout = prefix + completion) and its checked answer.

    `correct` follows `check_status`: True for "correct", False for "incorrect"/"unparseable", None when the
    check timed out or failed or the text was cut at max_tokens ("truncated").
    """

    model_config = _RECORD
    id: str
    problem_id: str
    model: str
    text: str
    final_answer: str | None = None
    correct: bool | None = None
    check_status: CheckStatus

    @model_validator(mode="after")
    def _correct_follows_status(self) -> Solution:
        if self.correct is not _CORRECT_BY_STATUS[self.check_status]:
            raise ValueError(f"correct={self.correct} contradicts check_status={self.check_status!r}")
        return self

    @classmethod
    def create(cls, problem_id: str, model: str, text: str, final_answer: str | None,
               check_status: CheckStatus) -> Solution:
        return cls(id=solution_id(problem_id, model, text), problem_id=problem_id, model=model, text=text,
                   final_answer=final_answer, correct=_CORRECT_BY_STATUS[check_status], check_status=check_status)


def split_id(ends: Sequence[int]) -> str:
    """Identity of one way of cutting a solution into steps: the offsets where its steps end (the solution's text
    is fixed by its id, so these fix every step's text). Two builds may cut one solution differently (another
    `step_separator`, or an OmegaPRM path whose continuation began with blank lines): their steps are stored
    side by side under their split ids (m011_step_splits)."""
    return content_id("split", list(ends))


class Step(BaseModel):
    """One step of a solution: `solution.text[start:end] == text`, separator included, so that the steps of a
    solution concatenate back to its text exactly and `"".join(steps[:i])` is the prefix sent to the policy.
    `split_id` names the split the step is part of (`split_id` of all its steps' ends: tasks/steps.py)."""

    model_config = _RECORD
    solution_id: str
    split_id: str
    index: int = Field(ge=0)
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _offsets_match_text(self) -> Step:
        if self.end - self.start != len(self.text):
            raise ValueError(f"step offsets [{self.start}, {self.end}) do not span its {len(self.text)} characters")
        return self


def prefix_hash(prefix: str, model: str = "") -> str:
    """Memo key of a solution prefix. The policy is part of it: an MC value is a property of (prefix, policy).
    "prefix-v2": values stored before unknown rollouts (timeouts, truncations) were left out of the counts
    (m005_step_estimates) are never looked up again."""
    return content_id("prefix-v2", model, prefix)


class PrefixValue(BaseModel):
    """A Monte Carlo estimate of a prefix: n_correct of n_rollouts continuations reached the gold answer, and
    the verdict a sequential test made on it (OmegaPRM's `estimation: sequential`; None: the counts decide).

    The verdict travels with the value through a search's memo, so a memo hit reuses it instead of forcing
    one on the counts. The catalog stores it too (m009_prefix_verdict); values written before carry None."""

    model_config = _RECORD
    problem_id: str
    prefix_hash: str
    n_correct: int = Field(ge=0)
    n_rollouts: int = Field(ge=1)
    verdict: Literal["correct", "error"] | None = None

    @model_validator(mode="after")
    def _counts(self) -> PrefixValue:
        if self.n_correct > self.n_rollouts:
            raise ValueError("n_correct exceeds n_rollouts")
        return self

    @property
    def mc(self) -> float:
        return self.n_correct / self.n_rollouts


class StepLabel(BaseModel):
    """Raw counts for the prefix that ends with step `step_index` of a solution, and the MC of the prefix one
    step shorter (`parent_mc`, None when that prefix was not estimated).

    A finished solution is its own single rollout: the label of its last step may be `n_rollouts=1` with
    `n_correct` = its checked outcome. `verdict` is the search's decision on the prefix when a statistical
    test made it (OmegaPRM's sequential estimation: a prefix with a few lucky correct continuations can be
    an error); None means the counts alone decide (MC > label threshold). The located first error is the
    first labelled step that is an error (`first_error_index`); steps before it are taken as correct.
    """

    model_config = _RECORD
    solution_id: str
    step_index: int = Field(ge=0)
    method: LabelMethod
    n_correct: int = Field(ge=0)
    n_rollouts: int = Field(ge=1)
    parent_mc: float | None = Field(None, ge=0.0, le=1.0)
    verdict: Literal["correct", "error"] | None = None

    @model_validator(mode="after")
    def _counts(self) -> StepLabel:
        if self.n_correct > self.n_rollouts:
            raise ValueError("n_correct exceeds n_rollouts")
        return self

    @property
    def mc(self) -> float:
        """Soft label: the fraction of continuations from this prefix that reached the gold answer."""
        return self.n_correct / self.n_rollouts

    @property
    def hard(self) -> bool:
        """Math-Shepherd hard label: some continuation from this prefix reached the gold answer."""
        return self.n_correct > 0


def first_error_index(labels: list[StepLabel], threshold: float = 0.0) -> int | None:
    """The located first error of one solution under one method: its first labelled step that the search's
    test called an error or whose MC is at most `threshold` (at 0: no correct continuation), or None. The one rule
    behind both the exported `first_error` and the hard labels (correct before it, wrong from it on)."""
    errors = [label.step_index for label in labels if label.verdict == "error" or label.mc <= threshold]
    return min(errors) if errors else None


class RolloutRequest(NamedTuple):
    """Ask the policy for `k` continuations of `prefix` (step-aligned text, possibly empty) of a problem.

    In-process only: the flow turns it into one `GenRequest(prompt=..., n=k)`."""

    problem_id: str
    prefix: str
    k: int
    draw: int = 0  # 0 for the first k rollouts of a prefix, 1.. for more: each draw samples with its own seed


class Rollout(NamedTuple):
    """One continuation of a prefix with its checked outcome; `text` is the completion only (not the prefix).

    A plain `(text, correct, n_tokens)` tuple is accepted (its outcome is then known: `correct`); `correct`
    must be False for anything that did not reach the gold answer. A `check_status` of "timeout", "error" or
    "truncated" makes the outcome unknown: such a rollout counts in no MC estimate (neither n_correct nor
    n_rollouts) and is never searched."""

    text: str
    correct: bool
    n_tokens: int = 0
    final_answer: str | None = None
    check_status: CheckStatus | None = None

    @property
    def known(self) -> bool:
        """Whether the rollout's outcome is known (checked correct, wrong or unparseable)."""
        return self.check_status not in UNKNOWN_STATUSES


PrefixLookup = Callable[[str, str], "PrefixValue | None"]
"""Memo of prefix values: (problem_id, prefix_hash) → a stored estimate, or None to sample one."""


class OmegaPRMConfig(BaseModel):
    """OmegaPRM search settings; defaults are those of Luo et al. 2024 (arXiv:2406.06592)."""

    model_config = _CONFIG
    k: int = Field(8, ge=1, le=256, description="Rollouts per Monte Carlo estimate and per extra draw")
    screening_k: int | None = Field(
        None, ge=1, le=1024, description="Screening rollouts from the empty prefix (default k; the paper uses 32)"
    )
    estimation: Literal["sequential", "mc"] = Field(
        "sequential",
        description="mc = the paper's rule (one estimate of k rollouts, correct iff MC > 0); sequential = draw k "
        "at a time until a sequential probability ratio test decides (tasks/search/estimate.py)",
    )
    max_k: int = Field(32, ge=1, le=1024, description="Sequential: most rollouts drawn for one prefix")
    error_value: float = Field(
        0.05, gt=0.0, lt=0.5, description="Sequential: the value (rate of lucky correct completions) assumed "
        "for a prefix that holds an error",
    )
    test_error_rate: float = Field(
        0.05, gt=0.0, lt=0.5, description="Sequential: the SPRT's error rates (both kinds) before the max_k cap"
    )
    alpha: float = Field(0.5, gt=0.0, le=1.0, description="Q(s,r) = alpha^(1-MC(s)) * beta^(len(r)/L)")
    beta: float = Field(0.9, gt=0.0, le=1.0, description="Length penalty base of Q(s,r)")
    length_scale: int = Field(500, ge=1, description="L of Q(s,r): rollout length scale in tokens")
    c_puct: float = Field(0.125, ge=0.0, description="Exploration weight of U(s) = c_puct*sqrt(sum N)/(1+N(s))")
    max_searches: int = Field(
        100, ge=0, description="Selections (binary searches) per problem: the paper's search limit"
    )
    search_all_wrong: bool = Field(
        False,
        description="Search questions whose every screening rollout is wrong (off by default: their labels would "
        "say the question is too hard, not where reasoning failed; such searches stop with `all_wrong`)",
    )
    max_estimates: int = Field(
        200, ge=1,
        description="Cost budget per problem in units of k rollouts (max_estimates * k rollouts requested, screening "
        "and extra draws included); memoised prefixes are free. Never exceeded: a rollout is selected only if its "
        "worst-case binary search at k per probe fits, and extra draws only spend what that reserve leaves",
    )
    step_separator: str = Field(DEFAULT_STEP_SEPARATOR, description="Regex that ends a step (kept with the step)")

    @model_validator(mode="after")
    def _screening_fits(self) -> OmegaPRMConfig:
        if (self.screening_k or self.k) > self.max_estimates * self.k:
            raise ValueError(f"screening_k ({self.screening_k}) exceeds the budget max_estimates * k "
                             f"({self.max_estimates * self.k} rollouts)")
        return self


class MathShepherdConfig(BaseModel):
    """Math-Shepherd labelling settings (Wang et al. 2024, arXiv:2312.08935)."""

    model_config = _CONFIG
    n: int = Field(8, ge=1, le=256, description="Completions sampled from every step prefix")
    step_separator: str = Field(DEFAULT_STEP_SEPARATOR, description="Regex that ends a step (kept with the step)")


class LabelledSolution(BaseModel):
    """One row of a stepwise dataset: a solution's step labels from one method.

    `labels` need not cover every step (OmegaPRM labels the prefixes it estimated); export derives the rest:
    steps before `first_error` are correct, steps from it on are not. `split_id` names the steps the labels are
    on (stored with them; None: labelled before m011_step_splits, or not from stored steps).
    """

    model_config = _RECORD
    id: str
    solution_id: str
    method: LabelMethod
    n_steps: int = Field(ge=1)
    labels: tuple[StepLabel, ...]
    first_error: int | None
    split_id: str | None = None

    @classmethod
    def create(cls, solution_id: str, method: LabelMethod, n_steps: int, labels: tuple[StepLabel, ...],
               split_id: str | None = None, named_split: bool = False) -> LabelledSolution:
        """`named_split`: the split is part of the row's id, so the same counts on two splits are two rows (and
        two content hashes). Every split but the one the default separator gives the text is named
        (tasks/steps.py `is_default_split`): rows on that one keep the ids they had before m011_step_splits."""
        key = [(lb.step_index, lb.n_correct, lb.n_rollouts, lb.parent_mc, *([lb.verdict] if lb.verdict else []))
               for lb in labels]
        parts = [solution_id, method, key, *([split_id] if named_split else [])]
        return cls(id=content_id("labelled", *parts), solution_id=solution_id, method=method, n_steps=n_steps,
                   labels=labels, first_error=first_error_index(list(labels)), split_id=split_id)
